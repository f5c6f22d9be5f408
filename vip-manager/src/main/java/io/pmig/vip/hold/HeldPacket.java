package io.pmig.vip.hold;

import java.util.Arrays;

/**
 * One IP packet addressed to a VIP, held while the VIP moves: the IP packet as it arrived (no
 * link-layer header) and when it arrived (the capture's timestamp, nanoseconds since the epoch).
 */
public record HeldPacket(byte[] ip, long arrivedAtEpochNanos) {
    /** Ethernet: destination, source, ethertype (linux/if_ether.h); an 802.1Q tag adds 4 bytes. */
    private static final int ETH_HLEN = 14;
    private static final int ETH_P_IP = 0x0800;
    private static final int ETH_P_IPV6 = 0x86DD;
    private static final int ETH_P_8021Q = 0x8100;

    /** The IP packet inside Ethernet frame {@code frame}, or null if it carries no IPv4/IPv6 packet. */
    public static HeldPacket fromFrame(byte[] frame, long arrivedAtEpochNanos) {
        int at = ETH_HLEN;
        if (frame.length < at) {
            return null;
        }
        int type = (frame[12] & 0xff) << 8 | frame[13] & 0xff;
        if (type == ETH_P_8021Q && frame.length >= at + 4) {
            type = (frame[16] & 0xff) << 8 | frame[17] & 0xff;
            at += 4;
        }
        if (type != ETH_P_IP && type != ETH_P_IPV6) {
            return null;
        }
        return new HeldPacket(Arrays.copyOfRange(frame, at, frame.length), arrivedAtEpochNanos);
    }

    public int length() {
        return ip.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HeldPacket p && p.arrivedAtEpochNanos == arrivedAtEpochNanos && Arrays.equals(p.ip, ip);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ip) + Long.hashCode(arrivedAtEpochNanos);
    }

    @Override
    public String toString() {
        return "HeldPacket[" + ip.length + " bytes at " + arrivedAtEpochNanos + "]";
    }
}
