package io.pmig.vip.neighbour;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * An Ethernet frame carrying an IPv4-over-Ethernet ARP packet: Ethernet header (dst, src,
 * ethertype 0x0806, linux/if_ether.h), then struct arphdr {be16 ar_hrd=ARPHRD_ETHER; be16
 * ar_pro=0x0800; u8 ar_hln=6; u8 ar_pln=4; be16 ar_op;} and sha, spa, tha, tpa (linux/if_arp.h,
 * RFC 826). Sent frames are padded to the 60-byte Ethernet minimum.
 */
public record ArpFrame(byte[] destination, byte[] source, int op, byte[] senderMac, byte[] senderIp, byte[] targetMac, byte[] targetIp) {
    public static final int ARPOP_REQUEST = 1;
    public static final int ARPOP_REPLY = 2;
    public static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};
    public static final byte[] ZERO_MAC = new byte[6];
    static final int ETH_HLEN = 14;
    static final int ARP_LEN = 28;
    static final int MIN_FRAME = 60;

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(MIN_FRAME);      // big-endian: network byte order
        b.put(destination).put(source).putShort((short) 0x0806);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) op);
        b.put(senderMac).put(senderIp).put(targetMac).put(targetIp);
        return b.array();
    }

    /** The ARP frame in {@code frame[0..length)}, or null if it is not IPv4-over-Ethernet ARP. */
    public static ArpFrame decode(byte[] frame, int length) {
        if (length < ETH_HLEN + ARP_LEN) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(frame, 0, length);
        if ((b.getShort(12) & 0xffff) != 0x0806 || b.getShort(14) != 1 || b.getShort(16) != 0x0800
            || b.get(18) != 6 || b.get(19) != 4) {
            return null;
        }
        return new ArpFrame(Arrays.copyOfRange(frame, 0, 6), Arrays.copyOfRange(frame, 6, 12), b.getShort(20) & 0xffff,
            Arrays.copyOfRange(frame, 22, 28), Arrays.copyOfRange(frame, 28, 32),
            Arrays.copyOfRange(frame, 32, 38), Arrays.copyOfRange(frame, 38, 42));
    }

    public InetAddress sender() {
        try {
            return InetAddress.getByAddress(senderIp);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] ipv4(InetAddress a) {
        if (!(a instanceof Inet4Address)) {
            throw new IllegalArgumentException(a.getHostAddress() + " is not IPv4: ARP is for IPv4 (IPv6 uses neighbour advertisements)");
        }
        return a.getAddress();
    }

    /** "02:00:00:00:00:01" */
    public static String mac(byte[] mac) {
        return HexFormat.ofDelimiter(":").formatHex(mac);
    }
}
