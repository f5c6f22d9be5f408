package io.pmig.vip.neighbour;

import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * RFC 5227 address conflict detection before a VIP is taken: broadcast an ARP probe (sender IP
 * 0.0.0.0, target IP = VIP, target MAC zero) and listen for any ARP from the VIP (a reply to the
 * probe, or another host's announcement) whose sender MAC is not ours.
 */
public final class ArpProbe {
    /** RFC 5227 PROBE_NUM is 3 probes over 1-2 s; a switchover-time check uses less (see {@link #DEFAULT_TIMEOUT}). */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(200);

    private ArpProbe() {
    }

    /** Whether another host on {@code iface}'s segment answers for {@code vip} within {@code timeout}. */
    public static boolean isInUse(String iface, InetAddress vip, Duration timeout) {
        return holder(iface, vip, timeout).isPresent();
    }

    /** The MAC of another host using {@code vip} on {@code iface}'s segment, if one answers within {@code timeout}. */
    public static Optional<byte[]> holder(String iface, InetAddress vip, Duration timeout) {
        return holders(iface, vip, timeout, true).stream().findFirst();
    }

    /** Every MAC but ours that answers for {@code vip} on {@code iface}'s segment within {@code timeout} (waits it out). */
    public static List<byte[]> holders(String iface, InetAddress vip, Duration timeout) {
        return holders(iface, vip, timeout, false);
    }

    private static List<byte[]> holders(String iface, InetAddress vip, Duration timeout, boolean firstOnly) {
        byte[] ip = ArpFrame.ipv4(vip);
        List<byte[]> found = new ArrayList<>();
        try (NeighbourSocket s = NeighbourSocket.open(iface)) {
            byte[] mac = s.mac();
            s.send(new ArpFrame(ArpFrame.BROADCAST, mac, ArpFrame.ARPOP_REQUEST, mac, new byte[4], ArpFrame.ZERO_MAC, ip).encode());
            long deadline = System.nanoTime() + timeout.toNanos();
            long left;
            while ((left = deadline - System.nanoTime()) > 0) {
                ArpFrame f = s.receive((int) Math.max(1, left / 1_000_000L));
                if (f == null) {
                    break;
                }
                if (Arrays.equals(f.senderIp(), ip) && !Arrays.equals(f.senderMac(), mac)
                    && found.stream().noneMatch(m -> Arrays.equals(m, f.senderMac()))) {
                    found.add(f.senderMac());
                    if (firstOnly) {
                        break;
                    }
                }
            }
            return found;
        }
    }
}
