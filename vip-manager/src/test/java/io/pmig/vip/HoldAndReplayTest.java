package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.hold.HoldLimits;
import io.pmig.vip.neighbour.ArpFrame;
import io.pmig.vip.nativeio.PmigHold;
import io.pmig.vip.neighbour.ArpProbe;
import io.pmig.vip.netlink.NftSets;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.LongSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Holds and replays in namespace A (the node, where the test thread is) of packets a client in
 * namespace B sends to a VIP: held packets never reach the socket until replayed, then arrive
 * once each and in order; rules switch over netlink; bad input changes nothing.
 */
@Timeout(60)
class HoldAndReplayTest extends TwoNamespaces {
    private static final String VIP = "10.78.0.50";
    private static final String VIP6 = "fd78::50";
    private static final byte[] SOME_MAC = {2, 0, 0, 0, 0, (byte) 0x99};

    private static VipSettings settings(HoldLimits limits) {
        VipSettings d = VipSettings.DEFAULT;
        return new VipSettings(d.announceMode(), d.announcements(), d.announceInterval(), limits, d.probeTimeout());
    }

    @Test
    void withoutPmigKoTheHoldIsTheNflogCapture() {
        assumeFalse(Files.exists(Path.of(PmigHold.DEVICE)), "pmig.ko is loaded on this host");
        assertEquals(-1, PmigHold.openIfLoaded(), "the probe found the module");
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT)) {
            assertFalse(m.holdsInTheKernel(), "the manager took the module's hold");
            assertTrue(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("pmig-hold-capture")),
                "no NFLOG capture thread runs");
        }
    }

    @Test
    void heldDatagramsWaitAndRollbackDeliversThemOnceInOrder() throws Exception {
        run("ip", "-n", nsA, "addr", "add", VIP + "/24", "dev", IF_A);
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT);
             DatagramChannel server = DatagramChannel.open().bind(new InetSocketAddress(vip, 9000));
             SourceSwitch s = m.source(vip, 24)) {
            s.hold();
            sendDatagramsFromB(vip, 9000, "m", 5);
            awaitAtLeast(5, s::held);
            assertNull(receive(server, 200), "a held datagram reached the socket");
            s.rollback(List.of());
            assertFalse(s.holding());
            for (int i = 1; i <= 5; i++) {
                assertEquals("m" + i, receive(server, 2000));
            }
            assertNull(receive(server, 200), "a datagram arrived twice");
            assertEquals(5, s.replayed());
            assertFalse(nft("list", "set", "inet", "pmig", "hold4").contains(VIP), "the hold's element is gone");
        }
    }

    @Test
    void aTcpRequestHeldAndReplayedIsAnsweredWithoutRetransmission() throws Exception {
        run("ip", "-n", nsA, "addr", "add", VIP + "/24", "dev", IF_A);
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT);
             ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress(vip, 9001))) {
            SocketChannel[] client = new SocketChannel[1];
            inB(() -> client[0] = SocketChannel.open(new InetSocketAddress(vip, 9001)));
            try (SocketChannel accepted = listener.accept(); SocketChannel c = client[0]; SourceSwitch s = m.source(vip, 24)) {
                long before = retransmissionsInB();
                s.hold();
                inB(() -> c.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII))));
                awaitAtLeast(1, s::held);
                accepted.configureBlocking(false);
                assertEquals(0, accepted.read(ByteBuffer.allocate(16)), "the held request reached the server");
                s.rollback(List.of());
                ByteBuffer got = ByteBuffer.allocate(16);
                long deadline = System.nanoTime() + 2_000_000_000L;
                while (got.position() < 4 && System.nanoTime() < deadline) {
                    accepted.read(got);
                }
                assertEquals("ping", new String(got.array(), 0, got.position(), StandardCharsets.US_ASCII));
                assertEquals(before, retransmissionsInB(), "the client retransmitted although its request was replayed");
            }
        }
    }

    @Test
    void newConnectionsAloneAreHeldAndARollbackConnectsThemWithoutRetransmission() throws Exception {
        run("ip", "-n", nsA, "addr", "add", VIP + "/24", "dev", IF_A);
        InetAddress vip = InetAddress.getByName(VIP);
        InetSocketAddress at = new InetSocketAddress(vip, 9005);
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT);
             ServerSocketChannel listener = ServerSocketChannel.open().bind(at)) {
            SocketChannel established = inB(() -> SocketChannel.open(at));
            try (SocketChannel accepted = listener.accept(); SocketChannel c = established; SourceSwitch s = m.source(vip, 24)) {
                long before = retransmissionsInB();
                s.holdNewConnections();
                assertTrue(nft("list", "set", "inet", "pmig", "syn4").contains(VIP));
                SocketChannel fresh = inB(() -> {
                    SocketChannel f = SocketChannel.open();
                    f.configureBlocking(false);
                    f.connect(at);
                    return f;
                });
                try (fresh) {
                    awaitAtLeast(1, s::held);
                    inB(() -> c.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII))));
                    ByteBuffer got = ByteBuffer.allocate(16);
                    accepted.socket().setSoTimeout(2000);
                    while (got.position() < 4 && accepted.read(got) >= 0) {
                        Thread.onSpinWait();
                    }
                    assertEquals("ping", new String(got.array(), 0, got.position(), StandardCharsets.US_ASCII),
                        "an established connection's data passes");
                    listener.configureBlocking(false);
                    assertNull(listener.accept(), "the held SYN reached the listener");
                    assertFalse(fresh.finishConnect(), "the new connection is held");
                    s.rollback(List.of());
                    assertFalse(s.holding());
                    long deadline = System.nanoTime() + 2_000_000_000L;
                    while (!fresh.finishConnect() && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                    assertTrue(fresh.isConnected(), "the replayed SYN was answered");
                    assertEquals(before, retransmissionsInB(), "the client retransmitted its SYN although it was replayed");
                    assertFalse(nft("list", "set", "inet", "pmig", "syn4").contains(VIP), "no SYN hold left on");
                }
            }
        }
    }

    @Test
    void theDestinationReplaysTheSourcesPacketsFirstThenItsOwn() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT);
             DestinationSwitch d = m.destination(vip, 24, SOME_MAC)) {
            try (DatagramChannel server = twoHeldAtTheDestination(d, vip, 9002)) {
                // what a source would forward: datagrams from B with a checksum the replay must redo
                List<HeldPacket> forwarded = List.of(udp(ADDR_B, VIP, 9002, "fwd1"), udp(ADDR_B, VIP, 9002, "fwd2"),
                    udp(ADDR_B, VIP, 9002, "fwd1"));
                d.keep(forwarded);
                assertEquals(List.of(), receiveAll(server), "nothing reaches the copy before the commit");
                d.replay();
                assertEquals(List.of("fwd1", "fwd2", "own1", "own2"), receiveAll(server));
                d.stopHolding();
                sendDatagramsFromB(vip, 9002, "after", 1);
                assertEquals("after1", receive(server, 2000));
                assertEquals(4, d.replayed());
            }
        }
    }

    /**
     * Aborted after the switch: nothing the clients sent reached the copy (its kernel would have acknowledged data the
     * original never gets), and all of it, the source's forwarded packets first, goes back to the source.
     */
    @Test
    void aDestinationRolledBackGivesTheSourceEverythingItKept() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT);
             DestinationSwitch d = m.destination(vip, 24, SOME_MAC)) {
            try (DatagramChannel server = twoHeldAtTheDestination(d, vip, 9005)) {
                d.keep(List.of(udp(ADDR_B, VIP, 9005, "fwd1")));
                assertNull(receive(server, 300), "a packet reached the copy before the commit");
                List<String> back = new ArrayList<>();
                for (HeldPacket p : d.rollback()) {
                    back.add(new String(p.ip(), 28, p.ip().length - 28, StandardCharsets.US_ASCII));
                }
                assertEquals(List.of("fwd1", "own1", "own2"), back);
                assertEquals(0, d.replayed());
            }
        }
    }

    @Test
    void limitsKeepSoManyAndCountTheRest() throws Exception {
        run("ip", "-n", nsA, "addr", "add", VIP + "/24", "dev", IF_A);
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipManager m = VipManager.open(IF_A, settings(new HoldLimits(3, 1 << 20)));
             SourceSwitch s = m.source(vip, 24)) {
            s.hold();
            sendDatagramsFromB(vip, 9003, "x", 10);
            awaitAtLeast(10, () -> s.held() + s.overflowed());
            assertEquals(3, s.held());
            assertEquals(7, s.overflowed());
            assertEquals(3, s.forward().size());
        }
    }

    @Test
    void ipv6PacketsAreHeldAndReplayed() throws Exception {
        run("ip", "-n", nsA, "addr", "add", "fd78::1/64", "dev", IF_A, "nodad");
        run("ip", "-n", nsB, "addr", "add", "fd78::2/64", "dev", IF_B, "nodad");
        run("ip", "-n", nsA, "addr", "add", VIP6 + "/64", "dev", IF_A, "nodad");
        InetAddress vip = InetAddress.getByName(VIP6);
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT);
             DatagramChannel server = DatagramChannel.open().bind(new InetSocketAddress(vip, 9004));
             SourceSwitch s = m.source(vip, 64)) {
            s.hold();
            sendDatagramsFromB(vip, 9004, "v6-", 3);
            awaitAtLeast(3, s::held);
            assertNull(receive(server, 200), "a held datagram reached the socket");
            s.rollback(List.of());
            for (int i = 1; i <= 3; i++) {
                assertEquals("v6-" + i, receive(server, 2000));
            }
        }
    }

    @Test
    void aReleasedVipIsNotAnsweredForAndComesBackOnRollback() throws Exception {
        run("ip", "-n", nsA, "addr", "add", VIP + "/24", "dev", IF_A);
        InetAddress vip = InetAddress.getByName(VIP);
        String macA = macA();
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT)) {
            assertEquals(List.of(macA), probeFromB(vip));
            m.rules().silenceArp(vip);
            assertEquals(List.of(), probeFromB(vip), "ARP silence: the address is here but not answered for");
            m.rules().unsilenceArp(vip);
            try (SourceSwitch s = m.source(vip, 24)) {
                s.hold();
                s.releaseVip();
                s.releaseVip();
                assertFalse(addrA().contains(VIP), addrA());
                assertEquals(List.of(), probeFromB(vip));
                s.rollback(List.of());
                s.rollback(List.of());
                assertTrue(addrA().contains(VIP), addrA());
                assertEquals(List.of(macA), probeFromB(vip));
            }
        }
    }

    @Test
    void badInputIsRefusedAndChangesNothing() throws Exception {
        VipException noIf = assertThrows(VipException.class, () -> VipManager.open("nope0", VipSettings.DEFAULT));
        assertEquals("interface nope0 does not exist", noIf.getMessage());
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT)) {
            VipException notHere = assertThrows(VipException.class, () -> m.source(vip, 24));
            assertTrue(notHere.getMessage().startsWith(VIP + " is not on " + IF_A), notHere.getMessage());
            // another host (B) has the VIP: the destination's probe finds it
            run("ip", "-n", nsB, "addr", "add", VIP + "/24", "dev", IF_B);
            VipException inUse = assertThrows(VipException.class, () -> m.destination(vip, 24, SOME_MAC));
            String macB = macOf(nsB, IF_B);
            assertTrue(inUse.getMessage().contains("in use on " + IF_A + "'s segment by " + macB), inUse.getMessage());
            assertFalse(addrA().contains(VIP), addrA());
            run("ip", "-n", nsB, "addr", "del", VIP + "/24", "dev", IF_B);
            run("ip", "-n", nsA, "addr", "add", VIP + "/24", "dev", IF_A);
            VipException already = assertThrows(VipException.class, () -> m.destination(vip, 24, SOME_MAC));
            assertTrue(already.getMessage().contains("already on " + IF_A), already.getMessage());
            assertFalse(nft("list", "set", "inet", "pmig", "hold4").contains(VIP), "no hold left on");
            assertThrows(VipException.class, () -> m.source(InetAddress.getByName("10.79.0.1"), 24));
        }
    }

    @Test
    void everyStepIsIdempotent() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT)) {
            try (DestinationSwitch d = m.destination(vip, 24, SOME_MAC)) {
                d.hold();
                d.hold();
                d.takeVip();
                d.takeVip();
                d.announce();
                d.announce();
                d.replay();
                d.stopHolding();
                d.stopHolding();
                assertTrue(addrA().contains(VIP), addrA());
            }
            try (SourceSwitch s = m.source(vip, 24)) {
                s.hold();
                s.hold();
                s.releaseVip();
                s.releaseVip();
                assertEquals(List.of(), s.stopHolding());
                assertEquals(List.of(), s.stopHolding());
                assertFalse(addrA().contains(VIP), addrA());
            }
            try (DestinationSwitch d = m.destination(vip, 24, SOME_MAC)) {
                d.hold();
                d.takeVip();
                assertEquals(List.of(), d.rollback());
                assertEquals(List.of(), d.rollback());
                assertFalse(addrA().contains(VIP), addrA());
                assertTrue(d.holding(), "what still arrives is kept for the source");
                assertEquals(List.of(), d.stopHolding());
                assertFalse(d.holding());
            }
        }
    }

    /**
     * The set elements that switch a hold: one removed is gone from the kernel's set, and removing one that is not there
     * (the destination's release of the new-connections hold it never used) changes nothing and is no error.
     */
    @Test
    void aSetElementRemovedIsGoneAndOneMissingIsNoError() throws Exception {
        byte[] key = InetAddress.getByName(VIP).getAddress();
        try (VipManager m = VipManager.open(IF_A, VipSettings.DEFAULT); NftSets sets = NftSets.open()) {
            sets.add(NftSets.NFPROTO_INET, "pmig", "hold4", key);
            assertTrue(run("ip", "netns", "exec", nsA, "nft", "list", "set", "inet", "pmig", "hold4").contains(VIP));
            sets.remove(NftSets.NFPROTO_INET, "pmig", "hold4", key);
            sets.remove(NftSets.NFPROTO_INET, "pmig", "hold4", key);
            sets.remove(NftSets.NFPROTO_INET, "pmig", "syn4", key);
            assertFalse(run("ip", "netns", "exec", nsA, "nft", "list", "set", "inet", "pmig", "hold4").contains(VIP));
        }
    }

    private void sendDatagramsFromB(InetAddress vip, int port, String prefix, int count) throws Exception {
        inB(() -> {
            try (DatagramChannel c = DatagramChannel.open()) {
                for (int i = 1; i <= count; i++) {
                    c.send(ByteBuffer.wrap((prefix + i).getBytes(StandardCharsets.US_ASCII)), new InetSocketAddress(vip, port));
                }
            }
            return null;
        });
    }

    private List<String> probeFromB(InetAddress vip) throws Exception {
        return inB(() -> ArpProbe.holders(IF_B, vip, Duration.ofMillis(200)).stream().map(ArpFrame::mac).toList());
    }

    /** The next datagram's text within {@code millis}, or null. */
    private static String receive(DatagramChannel server, long millis) throws Exception {
        server.configureBlocking(false);
        ByteBuffer b = ByteBuffer.allocate(2048);
        long deadline = System.nanoTime() + millis * 1_000_000L;
        do {
            if (server.receive(b) != null) {
                return new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII);
            }
            Thread.sleep(1);
        } while (System.nanoTime() < deadline);
        return null;
    }

    /** {@code d} holding with the VIP taken and announced, and "own1", "own2" from B held for a server on {@code port}. */
    private DatagramChannel twoHeldAtTheDestination(DestinationSwitch d, InetAddress vip, int port) throws Exception {
        d.hold();
        d.takeVip();
        d.announce();
        DatagramChannel server = DatagramChannel.open().bind(new InetSocketAddress(vip, port));
        sendDatagramsFromB(vip, port, "own", 2);
        awaitAtLeast(2, d::held);
        return server;
    }

    private static List<String> receiveAll(DatagramChannel server) throws Exception {
        List<String> out = new ArrayList<>();
        String s;
        while ((s = receive(server, 300)) != null) {
            out.add(s);
        }
        return out;
    }

    private static void awaitAtLeast(long n, LongSupplier value) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (value.getAsLong() < n && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertTrue(value.getAsLong() >= n, "expected at least " + n + ", got " + value.getAsLong());
    }

    private String nft(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", nsA, "nft"));
        cmd.addAll(List.of(args));
        return run(cmd.toArray(String[]::new));
    }

    /** An IPv4/UDP packet with zero checksums, as a capture of a checksum-offloading sender shows it. */
    static HeldPacket udp(String from, String to, int port, String text) throws Exception {
        byte[] data = text.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(28 + data.length);
        b.put((byte) 0x45).put((byte) 0).putShort((short) (28 + data.length)).putInt(0).put((byte) 64).put((byte) 17).putShort((short) 0);
        b.put(InetAddress.getByName(from).getAddress()).put(InetAddress.getByName(to).getAddress());
        b.putShort((short) 40000).putShort((short) port).putShort((short) (8 + data.length)).putShort((short) 0x1234).put(data);
        return new HeldPacket(b.array(), System.nanoTime());
    }
}
