package io.pmig.vip.hold;

import java.util.Arrays;

/**
 * One IP packet addressed to a VIP, held while the VIP moves: the IP packet as it arrived (no
 * link-layer header) and when it was read (nanoseconds since the epoch).
 */
public record HeldPacket(byte[] ip, long arrivedAtEpochNanos) {
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
