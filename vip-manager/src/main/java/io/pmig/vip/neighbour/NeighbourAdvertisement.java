package io.pmig.vip.neighbour;

import io.pmig.vip.packet.Checksums;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;

/**
 * The IPv6 counterpart of a gratuitous ARP: an unsolicited neighbour advertisement (RFC 4861
 * §7.2.6) to all nodes, Override flag set, target = VIP with its target link-layer address
 * option = our MAC, sent from the VIP with hop limit 255 (receivers drop any other). Layouts:
 * Ethernet (linux/if_ether.h), struct ipv6hdr (linux/ipv6.h), struct nd_msg and
 * ND_OPT_TARGET_LL_ADDR (net/ndisc.h).
 */
final class NeighbourAdvertisement {
    private static final byte[] ALL_NODES = {(byte) 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    /** 33:33 + the low 32 bits of ff02::1 (RFC 2464 §7). */
    private static final byte[] ALL_NODES_MAC = {0x33, 0x33, 0, 0, 0, 1};
    private static final int NDISC_NEIGHBOUR_ADVERTISEMENT = 136;
    private static final int FLAG_OVERRIDE = 0x20000000;
    private static final int ND_OPT_TARGET_LL_ADDR = 2;
    private static final int ICMP_LENGTH = 8 + 16 + 8;

    private NeighbourAdvertisement() {
    }

    static byte[] frame(byte[] mac, InetAddress vip) {
        if (!(vip instanceof Inet6Address)) {
            throw new IllegalArgumentException(vip.getHostAddress() + " is not IPv6: IPv4 is announced by gratuitous ARP");
        }
        byte[] target = vip.getAddress();
        ByteBuffer icmp = ByteBuffer.allocate(ICMP_LENGTH);
        icmp.put((byte) NDISC_NEIGHBOUR_ADVERTISEMENT).put((byte) 0).putShort((short) 0).putInt(FLAG_OVERRIDE).put(target);
        icmp.put((byte) ND_OPT_TARGET_LL_ADDR).put((byte) 1).put(mac);
        byte[] message = icmp.array();
        int checksum = Checksums.icmpv6(target, ALL_NODES, message);
        message[2] = (byte) (checksum >>> 8);
        message[3] = (byte) checksum;
        ByteBuffer f = ByteBuffer.allocate(14 + 40 + ICMP_LENGTH);
        f.put(ALL_NODES_MAC).put(mac).putShort((short) 0x86DD);
        f.putInt(6 << 28).putShort((short) ICMP_LENGTH).put((byte) Checksums.PROTO_ICMPV6).put((byte) 255).put(target).put(ALL_NODES);
        f.put(message);
        return f.array();
    }
}
