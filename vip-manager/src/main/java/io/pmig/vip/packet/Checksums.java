package io.pmig.vip.packet;

import java.util.Arrays;

/**
 * Internet checksums (RFC 1071) of IP packets as they go back into a stack: the IPv4 header's,
 * and TCP's, UDP's and ICMPv6's over their pseudo-header (RFC 793, RFC 768, RFC 8200 §8.1).
 * A packet captured on a veth usually carries only a partial checksum (the sender left the rest
 * to an offload that never ran), and the receiving stack drops a bad one (TcpInCsumErrors).
 */
public final class Checksums {
    public static final int PROTO_TCP = 6;
    public static final int PROTO_UDP = 17;
    public static final int PROTO_ICMPV6 = 58;
    private static final int IPV4_MIN_HEADER = 20;
    private static final int IPV6_HEADER = 40;

    private Checksums() {
    }

    /**
     * A copy of IP packet {@code ip}, cut to the length its header gives (Ethernet pads short
     * frames), with its checksums computed afresh. Fragments other than the first, and IPv6
     * packets with extension headers, keep their transport checksum as it came. Null if
     * {@code ip} is not a whole IPv4/IPv6 packet.
     */
    public static byte[] recomputed(byte[] ip) {
        if (ip.length < 1) {
            return null;
        }
        int version = (ip[0] & 0xff) >>> 4;
        if (version == 4 && ip.length >= IPV4_MIN_HEADER) {
            int headerLength = (ip[0] & 0x0f) * 4;
            int total = u16(ip, 2);
            if (headerLength < IPV4_MIN_HEADER || total < headerLength || total > ip.length) {
                return null;
            }
            byte[] p = Arrays.copyOf(ip, total);
            put16(p, 10, 0);
            put16(p, 10, finish(sum(p, 0, headerLength, 0)));
            boolean firstFragment = (u16(p, 6) & 0x1fff) == 0;
            boolean whole = firstFragment && (u16(p, 6) & 0x2000) == 0;
            if (whole) {
                long pseudo = sum(p, 12, 8, 0) + (p[9] & 0xff) + (total - headerLength);
                transport(p, headerLength, p[9] & 0xff, pseudo);
            }
            return p;
        }
        if (version == 6 && ip.length >= IPV6_HEADER) {
            int total = IPV6_HEADER + u16(ip, 4);
            if (total > ip.length) {
                return null;
            }
            byte[] p = Arrays.copyOf(ip, total);
            int next = p[6] & 0xff;
            long pseudo = sum(p, 8, 32, 0) + (total - IPV6_HEADER) + next;
            transport(p, IPV6_HEADER, next, pseudo);
            return p;
        }
        return null;
    }

    /** The checksum of an ICMPv6 message {@code icmp} sent from {@code source} to {@code destination}. */
    public static int icmpv6(byte[] source, byte[] destination, byte[] icmp) {
        long pseudo = sum(source, 0, 16, 0) + sum(destination, 0, 16, 0) + icmp.length + PROTO_ICMPV6;
        return finish(sum(icmp, 0, icmp.length, pseudo));
    }

    private static void transport(byte[] p, int at, int protocol, long pseudo) {
        int offset = switch (protocol) {
            case PROTO_TCP -> 16;
            case PROTO_UDP -> 6;
            case PROTO_ICMPV6 -> 2;
            default -> -1;
        };
        if (offset < 0 || p.length < at + offset + 2) {
            return;
        }
        put16(p, at + offset, 0);
        int c = finish(sum(p, at, p.length - at, pseudo));
        // UDP sends a computed 0 as 0xffff: 0 means "no checksum"
        put16(p, at + offset, protocol == PROTO_UDP && c == 0 ? 0xffff : c);
    }

    /** Adds {@code length} bytes from {@code at} as big-endian 16-bit words (odd tail padded with 0). */
    private static long sum(byte[] b, int at, int length, long sum) {
        int end = at + length;
        int i = at;
        for (; i + 1 < end; i += 2) {
            sum += (b[i] & 0xff) << 8 | b[i + 1] & 0xff;
        }
        if (i < end) {
            sum += (b[i] & 0xff) << 8;
        }
        return sum;
    }

    private static int finish(long sum) {
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) (~sum & 0xffff);
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xff) << 8 | b[at + 1] & 0xff;
    }

    private static void put16(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }
}
