package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

    private final Lab lab = new Lab(new LabLayout(LabTestSupport.LAB), new LabShell());

    @BeforeEach
    void lab() {
        LabTestSupport.freshLab();
        // this test plays the nodes' daemons itself: the lab's own would hold the nodes' NFLOG group
        Map<String, Long> inits = new LinkedHashMap<>();
        lab.state().orElseThrow().hosts().stream().filter(LabState.Host::isNode).forEach(h -> inits.put(h.name(), h.initPid()));
        new LabDaemons(new LabLayout(LabTestSupport.LAB), new LabShell()).stop(inits);
    }

    @AfterEach
    void removeLab() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
        LabTestSupport.removeLab();
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

    /**
     * The client: datagrams numbered 0.. to the VIP every 500 µs until stopped. (Faster, a server's
     * receive buffer, ~270 datagrams, overflows when its counting thread is descheduled on a busy
     * machine, and that loss would not be the VIP manager's.)
     */
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
                        java.util.concurrent.locks.LockSupport.parkNanos(500_000);
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
        assertEveryDatagramOnce(client.stop(), a, b);
    }

    private static void assertEveryDatagramOnce(int sent, Node a, Node b) throws InterruptedException {
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
        assertEquals(sent, all.cardinality(), "datagrams lost: " + (sent - all.cardinality()) + " of " + sent + ": " + missing
            + "(servers' receive-buffer overflows: node-a " + receiveBufferErrors("node-a") + ", node-b " + receiveBufferErrors("node-b") + ")");
        assertEquals(0, both.cardinality() + a.duplicates + b.duplicates, "datagrams delivered twice");
    }

    /** One step of a move, run by the test thread on the nodes' threads. */
    private interface Step {
        void run(SourceSwitch s, DestinationSwitch d, Node from, Node to) throws Exception;
    }

    /** The move as the daemon orders it, each side on its node's thread. */
    private static final List<Step> STEPS = List.of(
        (s, d, from, to) -> to.ns.call(() -> { d.hold(); return null; }),
        (s, d, from, to) -> from.ns.call(() -> { s.hold(); s.releaseVip(); return null; }),
        (s, d, from, to) -> to.ns.call(() -> { d.takeVip(); d.announce(); return null; }),
        (s, d, from, to) -> {
            List<HeldPacket> forwarded = from.ns.call(s::forward);
            to.ns.call(() -> { d.keep(forwarded); d.replay(); return null; });
        },
        (s, d, from, to) -> to.ns.call(() -> { d.stopHolding(); return null; }));

    private static void move(InetAddress vip, Node from, Node to) throws Exception {
        moveSteps(vip, from, to, STEPS.size(), false);
    }

    /** Runs the first {@code steps} steps of a move; then rolls back, or finishes; either way the switch settles. */
    private static void moveSteps(InetAddress vip, Node from, Node to, int steps, boolean rollBack) throws Exception {
        byte[] sourceMac = from.vips.mac();
        SourceSwitch s = from.ns.call(() -> from.vips.source(vip, 24));
        DestinationSwitch d = to.ns.call(() -> to.vips.destination(vip, 24, sourceMac));
        try {
            for (Step step : STEPS.subList(0, steps)) {
                step.run(s, d, from, to);
            }
            if (rollBack) {
                List<HeldPacket> heldThere = to.ns.call(d::rollback);
                from.ns.call(() -> { s.rollback(heldThere); return null; });
                settle(from, s, to, d);
            } else {
                settle(to, d, from, s);
            }
        } finally {
            from.ns.call(() -> { s.close(); return null; });
            to.ns.call(() -> { d.close(); return null; });
        }
    }

    /**
     * The node that took the VIP announces it round after round while the other keeps forwarding
     * what stale caches still send it; then the other stops holding and its last packets follow.
     */
    private static void settle(Node taker, io.pmig.vip.VipSwitch took, Node giver, io.pmig.vip.VipSwitch gave) throws Exception {
        while (!taker.ns.call(took::announceDue)) {
            List<HeldPacket> late = giver.ns.call(gave::forward);
            taker.ns.call(() -> { took.replayLate(late); return null; });
            Thread.sleep(5);
        }
        List<HeldPacket> last = giver.ns.call(gave::stopHolding);
        taker.ns.call(() -> { took.replayLate(last); return null; });
    }

    @Test
    @Timeout(180)
    void aRollbackAtEveryStepLeavesTheVipOnTheSourceAndLosesNothing() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        Node a = new Node("node-a");
        Node b = new Node("node-b");
        LabTestSupport.exec("node-a", "ip", "addr", "add", VIP + "/24", "dev", "eth0");
        Client client = new Client();
        Thread.sleep(300);
        for (int steps = 0; steps <= STEPS.size(); steps++) {
            moveSteps(vip, a, b, steps, true);
            Thread.sleep(300);
            assertTrue(a.ns.call(() -> a.vips.has(vip)), "after " + steps + " steps: the VIP is back on node-a");
            assertTrue(!b.ns.call(() -> b.vips.has(vip)), "after " + steps + " steps: the VIP is not on node-b");
            assertTrue(neighbour(VIP).contains(a.mac()), "after " + steps + " steps: the client's entry is node-a's: " + neighbour(VIP));
        }
        int before = a.received.cardinality();
        Thread.sleep(300);
        assertTrue(a.received.cardinality() > before, "node-a still receives the client's datagrams");
        assertEveryDatagramOnce(client.stop(), a, b);
    }

    /** UdpRcvbufErrors of a host's namespace: datagrams its stack had to drop because a socket was full. */
    private static String receiveBufferErrors(String host) {
        return LabTestSupport.sh("ip netns exec " + new LabLayout(LabTestSupport.LAB).netns(host)
            + " awk '/^Udp:/ { if (n++) print $6; }' /proc/net/snmp").strip();
    }

    private static String neighbour(String ip) throws Exception {
        Process p = new ProcessBuilder("ip", "-n", new LabLayout(LabTestSupport.LAB).netns("client"), "neigh", "show", ip)
            .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
    }
}
