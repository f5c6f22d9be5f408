package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.down;
import static io.pmig.cli.lab.LabTestSupport.pmig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import io.pmig.vip.DestinationSwitch;
import io.pmig.vip.SourceSwitch;
import io.pmig.vip.VipManager;
import io.pmig.vip.VipSettings;
import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.neighbour.ArpFrame;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The VIP manager in the lab, each node's side driven on a thread inside that node as its daemon
 * would: a client in `client` sends numbered datagrams to the VIP while the VIP moves between
 * node-a and node-b, where a counting server on each node receives them. Every datagram must
 * arrive exactly once, and the client's neighbour entry must follow the VIP.
 */
class VipMoveTest {
    private static final String VIP = "10.77.0.50";
    private static final int PORT = 7100;
    private static final int MOVES = 10;

    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeEach
    void lab() {
        assumeTrue(LabCommandTest.isRoot(), "the lab needs root");
        new Lab(new LabLayout(LabTestSupport.LAB), new LabShell()).down();
        Run up = pmig("lab", "up");
        assertEquals(ExitCodes.OK, up.exitCode(), up.toString());
    }

    @AfterEach
    void removeLab() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
        down();
    }

    /** A node as the daemon sees it: its thread, its VIP manager, and a server counting datagrams by number. */
    private final class Node {
        final InNamespace ns;
        final VipManager vips;
        final BitSet received = new BitSet();
        int duplicates;
        private final DatagramChannel server;
        private final Future<Void> serving;

        Node(String host) throws Exception {
            ns = new InNamespace(host);
            opened.add(ns);
            vips = ns.call(() -> VipManager.open("eth0", VipSettings.DEFAULT));
            opened.add(() -> ns.call(() -> { vips.close(); return null; }));
            server = ns.call(() -> DatagramChannel.open().bind(new InetSocketAddress(PORT)));
            opened.add(server);
            InNamespace counting = new InNamespace(host);
            opened.add(counting);
            serving = counting.submit(this::count);
        }

        private Void count() throws Exception {
            ByteBuffer b = ByteBuffer.allocate(64);
            while (server.isOpen()) {
                b.clear();
                try {
                    server.receive(b);
                } catch (java.nio.channels.ClosedChannelException closed) {
                    return null;
                }
                int n = b.flip().getInt();
                synchronized (received) {
                    if (received.get(n)) {
                        duplicates++;
                    }
                    received.set(n);
                }
            }
            return null;
        }

        String mac() {
            return ArpFrame.mac(vips.mac());
        }
    }

    /** The client: datagrams numbered 0.. to the VIP every 200 µs until stopped. */
    private final class Client {
        final AtomicBoolean running = new AtomicBoolean(true);
        final Future<Integer> sending;

        Client() {
            InNamespace ns = new InNamespace("client");
            opened.add(ns);
            sending = ns.submit(() -> {
                int n = 0;
                try (DatagramChannel c = DatagramChannel.open()) {
                    InetSocketAddress to = new InetSocketAddress(InetAddress.getByName(VIP), PORT);
                    while (running.get()) {
                        c.send(ByteBuffer.allocate(4).putInt(0, n), to);
                        n++;
                        java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                    }
                }
                return n;
            });
        }

        int stop() throws Exception {
            running.set(false);
            return InNamespace.join(sending);
        }
    }

    @Test
    @Timeout(180)
    void everyDatagramArrivesOnceWhileTheVipMovesTenTimes() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        Node a = new Node("node-a");
        Node b = new Node("node-b");
        LabTestSupport.exec("node-a", "ip", "addr", "add", VIP + "/24", "dev", "eth0");
        Client client = new Client();
        Thread.sleep(300);
        Node from = a;
        Node to = b;
        for (int i = 0; i < MOVES; i++) {
            move(vip, from, to);
            Thread.sleep(300);
            assertTrue(neighbour(VIP).contains(to.mac()), "move " + (i + 1) + ": the client's entry follows to "
                + to.ns.host() + " (" + to.mac() + "): " + neighbour(VIP));
            Node t = from;
            from = to;
            to = t;
        }
        Thread.sleep(300);
        int sent = client.stop();
        Thread.sleep(300);
        BitSet all = new BitSet();
        all.or(a.received);
        all.or(b.received);
        BitSet both = (BitSet) a.received.clone();
        both.and(b.received);
        StringBuilder missing = new StringBuilder();
        for (int m = all.nextClearBit(0); m < sent && missing.length() < 400; m = all.nextClearBit(m + 1)) {
            missing.append(m).append(' ');
        }
        assertEquals(sent, all.cardinality(), "datagrams lost: " + (sent - all.cardinality()) + " of " + sent
            + ": " + missing);
        assertEquals(0, both.cardinality() + a.duplicates + b.duplicates, "datagrams delivered twice");
    }

    /** The move as the daemon orders it, each side on its node's thread. */
    private static void move(InetAddress vip, Node from, Node to) throws Exception {
        byte[] sourceMac = from.vips.mac();
        SourceSwitch s = from.ns.call(() -> from.vips.source(vip, 24));
        DestinationSwitch d = to.ns.call(() -> to.vips.destination(vip, 24, sourceMac));
        try {
            to.ns.call(() -> { d.hold(); return null; });
            from.ns.call(() -> { s.hold(); s.releaseVip(); return null; });
            to.ns.call(() -> { d.takeVip(); d.announce(); return null; });
            List<HeldPacket> forwarded = from.ns.call(s::forward);
            to.ns.call(() -> { d.replay(forwarded); return null; });
            to.ns.call(() -> { d.stopHolding(); return null; });
            // stale caches may still send to the source until the last announcement: keep forwarding
            while (!to.ns.call(d::announceDue)) {
                List<HeldPacket> late = from.ns.call(s::forward);
                to.ns.call(() -> { d.replayLate(late); return null; });
                Thread.sleep(5);
            }
            List<HeldPacket> late = from.ns.call(s::stopHolding);
            to.ns.call(() -> { d.replayLate(late); return null; });
        } finally {
            from.ns.call(() -> { s.close(); return null; });
            to.ns.call(() -> { d.close(); return null; });
        }
    }

    private static String neighbour(String ip) throws Exception {
        Process p = new ProcessBuilder("ip", "-n", new LabLayout(LabTestSupport.LAB).netns("client"), "neigh", "show", ip)
            .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
    }
}
