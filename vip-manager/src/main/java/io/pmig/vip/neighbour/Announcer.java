package io.pmig.vip.neighbour;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * Announces that a VIP now lives at this interface's MAC: for IPv4 a gratuitous ARP (broadcast,
 * sender IP = target IP = VIP, sender MAC = the interface's), for IPv6 an unsolicited neighbour
 * advertisement with the Override flag (one frame a round, whatever the mode). Synchronous, from the calling thread (a background
 * arping went out ~90 ms late, FACTS.md); no hidden threads.
 *
 * <p>Closing a packet socket waits for an RCU grace period (synchronize_net() in
 * packet_release, net/packet/af_packet.c), measured at ~15 ms here. The switchover path should
 * therefore {@link #open} the sender ahead of time and keep it; the static one-shot methods open
 * and close one per call and are for operators and tests.
 */
public final class Announcer implements AutoCloseable {
    /**
     * REQUEST: ARP request, target MAC 00:00:00:00:00:00 (RFC 5227 "announcement"). REPLY: ARP
     * reply with target MAC = sender MAC, which Linux requires to treat a reply as gratuitous
     * (arp_is_garp in net/ipv4/arp.c). BOTH: a request then a reply, as Pacemaker IPaddr2 sends.
     */
    public enum Mode { REQUEST, REPLY, BOTH }

    /**
     * Defaults after Pacemaker's IPaddr2 (arp_count=5, arp_interval=200 ms, request and reply each
     * round); keepalived also sends 5. Repeats cover a lost frame and a neighbour whose entry was
     * updated less than locktime (~1 s) before, which may ignore a non-gratuitous update.
     */
    public static final int DEFAULT_COUNT = 5;
    public static final Duration DEFAULT_INTERVAL = Duration.ofMillis(200);
    public static final Mode DEFAULT_MODE = Mode.BOTH;

    /** What an announcement did: frames sent, microseconds until the first round was out, and in all. */
    public record Result(int frames, long firstRoundMicros, long totalMicros) {
    }

    private final NeighbourSocket socket;

    private Announcer(NeighbourSocket socket) {
        this.socket = socket;
    }

    /** A sender bound to {@code iface} in the calling thread's network namespace, kept open for fast announces. */
    public static Announcer open(String iface) {
        return new Announcer(NeighbourSocket.open(iface));
    }

    /** The MAC this sender announces. */
    public byte[] mac() {
        return socket.mac();
    }

    /** Sends one round for {@code vip} now (two frames for BOTH); returns the microseconds it took. */
    public long announce(InetAddress vip, Mode mode) {
        long start = System.nanoTime();
        send(socket, vip, mode);
        return (System.nanoTime() - start) / 1000;
    }

    /** The defaults: 5 rounds 200 ms apart, request then reply each round. Blocks for ~800 ms. */
    public Result announce(InetAddress vip) {
        return announce(vip, DEFAULT_MODE, DEFAULT_COUNT, DEFAULT_INTERVAL);
    }

    /**
     * Sends the first round at once and {@code count - 1} more at {@code interval}, blocking the
     * caller until the last is out. Rounds keep to a fixed schedule from the first one.
     */
    public Result announce(InetAddress vip, Mode mode, int count, Duration interval) {
        if (count < 1) {
            throw new IllegalArgumentException("count must be at least 1, not " + count);
        }
        long start = System.nanoTime();
        long first = 0;
        int frames = 0;
        for (int i = 0; i < count; i++) {
            if (i > 0) {
                long due = start + i * interval.toNanos();
                long wait;
                while ((wait = due - System.nanoTime()) > 0) {
                    LockSupport.parkNanos(wait);
                }
            }
            frames += send(socket, vip, mode);
            if (i == 0) {
                first = (System.nanoTime() - start) / 1000;
            }
        }
        return new Result(frames, first, (System.nanoTime() - start) / 1000);
    }

    /**
     * One-shot: opens a sender on {@code iface}, sends one round now, closes it. Returns the
     * microseconds from the call until the frames were out (closing, ~15 ms, comes after).
     */
    public static long announce(String iface, InetAddress vip, Mode mode) {
        long start = System.nanoTime();
        try (NeighbourSocket s = NeighbourSocket.open(iface)) {
            send(s, vip, mode);
            return (System.nanoTime() - start) / 1000;
        }
    }

    /** One-shot with the defaults (5 rounds at 200 ms, request and reply). */
    public static Result announce(String iface, InetAddress vip) {
        return announce(iface, vip, DEFAULT_MODE, DEFAULT_COUNT, DEFAULT_INTERVAL);
    }

    /** One-shot: the first round at once, then the repeats at {@code interval}, blocking. */
    public static Result announce(String iface, InetAddress vip, Mode mode, int count, Duration interval) {
        try (Announcer g = open(iface)) {
            return g.announce(vip, mode, count, interval);
        }
    }

    /** Sends one round on an open socket; returns the frames sent. */
    static int send(NeighbourSocket s, InetAddress vip, Mode mode) {
        byte[] mac = s.mac();
        if (vip instanceof Inet6Address) {
            s.send(NeighbourAdvertisement.frame(mac, vip));
            return 1;
        }
        byte[] ip = ArpFrame.ipv4(vip);
        int frames = 0;
        if (mode != Mode.REPLY) {
            s.send(new ArpFrame(ArpFrame.BROADCAST, mac, ArpFrame.ARPOP_REQUEST, mac, ip, ArpFrame.ZERO_MAC, ip).encode());
            frames++;
        }
        if (mode != Mode.REQUEST) {
            s.send(new ArpFrame(ArpFrame.BROADCAST, mac, ArpFrame.ARPOP_REPLY, mac, ip, mac, ip).encode());
            frames++;
        }
        return frames;
    }

    @Override
    public void close() {
        socket.close();
    }
}
