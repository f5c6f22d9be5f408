package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.down;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Servers whose listeners hold connections they have not accepted: new connections to the VIP are held before the
 * freeze while the server takes what its listeners hold. One with a backlog of 4 that accepts in bursts under a
 * connect storm (its queue overflows again and again) moves there and back, staged and bundle, and not one client is
 * refused, reset or left unanswered. One that stops accepting is refused after limits.listener.drain.millis, naming
 * its listener; the connection attempt held meanwhile is put into node-a's stack (its client connects without
 * retransmitting its SYN), and every client is answered once the server accepts again.
 */
class BusyListenerTest {
    private static final int CLIENTS = 12;
    /** At most this long between a client's answer and its next connection, at random: a storm, not lock-step. */
    private static final int CLIENT_PAUSE_MILLIS = 40;
    private static final byte[] PING = "ping 1\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] PONG = "pong 1\n".getBytes(StandardCharsets.US_ASCII);
    private final LabNodes nodes = new LabNodes();

    @BeforeEach
    void lab() {
        LabTestSupport.freshLab();
    }

    @AfterEach
    void removeLab() {
        down();
    }

    @Test
    @Timeout(300)
    void aListenerWithAFullBacklogMovesThereAndBackUnderAConnectStorm() throws Exception {
        // a backlog of 4 (5 connections fit in the queue) taken every 20 ms: ~180 connections a second, the queue full often
        String server = StreamService.startOnNodeA("64", "0", "4", "20");
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong answered = new AtomicLong();
        Map<String, AtomicLong> failures = new ConcurrentHashMap<>();
        List<Future<?>> clients = new ArrayList<>();
        List<InNamespace> threads = new ArrayList<>();
        try {
            for (int i = 0; i < CLIENTS; i++) {
                InNamespace client = new InNamespace("client");
                threads.add(client);
                clients.add(client.submit(() -> storm(stop, answered, failures)));
            }
            awaitAnswers(answered, 300);
            assertTrue(counter(nodes.inNode("node-a", "cat", "/proc/net/netstat"), "ListenOverflows") > 0,
                "the server's backlog overflows under the storm");
            Run there = pmigIn("node-a", "migrate", server, "--to", "node-b", "--json");
            assertEquals(ExitCodes.OK, there.exitCode(), there.toString());
            assertEquals("staged", there.json().get("mode").asText());
            assertTrue(there.json().has("listenerDrainMillis"), there.out());
            awaitAnswers(answered, answered.get() + 300);
            Run back = pmigIn("node-b", "migrate", there.json().get("restoredPid").asText(), "--to", "node-a", "--mode", "bundle",
                "--json");
            assertEquals(ExitCodes.OK, back.exitCode(), back.toString());
            awaitAnswers(answered, answered.get() + 300);
            stop.set(true);
            for (Future<?> f : clients) {
                InNamespace.join(f);
            }
        } finally {
            stop.set(true);
            threads.forEach(InNamespace::close);
        }
        assertTrue(failures.isEmpty(), answered.get() + " connections answered, and failed: " + failures);
        nodes.assertServiceOn("node-a", server, StreamService.VIP);
    }

    @Test
    @Timeout(240)
    void aListenerThatDoesNotAcceptIsRefusedAndItsHeldClientsAreAnsweredHere() throws Exception {
        nodes.reconfigure("node-a", "limits.listener.drain.millis = 300");
        String server = StreamService.startOnNodeA("64", "0", "8");
        nodes.inNode("node-a", "kill", "-USR1", server);
        try (InNamespace client = new InNamespace("client")) {
            List<Socket> waiting = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    waiting.add(client.call(BusyListenerTest::connectAndAsk));
                }
                long synRetransmitted = client.call(() -> counter(Files.readString(Path.of("/proc/thread-self/net/netstat")),
                    "TCPSynRetrans"));
                CompletableFuture<Run> migration = CompletableFuture.supplyAsync(() -> pmigIn("node-a", "migrate", server, "--to",
                    "node-b", "--mode", "bundle", "--json"));
                for (int i = 0; i < 1200 && !nodes.inNode("node-a", "nft", "list", "set", "inet", "pmig", "syn4")
                        .contains(StreamService.VIP); i++) {
                    Thread.sleep(5);
                }
                // a new client while new connections are held: its SYN waits in the hold
                waiting.add(client.call(BusyListenerTest::connectAndAsk));
                Run refused = migration.get();
                assertEquals(ExitCodes.REFUSED, refused.exitCode(), refused.toString());
                String error = refused.json().get("error").asText();
                assertTrue(error.contains("listening TCP socket " + StreamService.VIP + ":" + StreamService.PORT
                    + " (3 connection(s) not accepted") && error.contains("limits.listener.drain.millis")
                    && error.contains("the process runs on here"), error);
                assertEquals(synRetransmitted, (long) client.call(() -> counter(Files.readString(
                    Path.of("/proc/thread-self/net/netstat")), "TCPSynRetrans")),
                    "the held SYN was put into node-a's stack: its client did not retransmit it");
                nodes.inNode("node-a", "kill", "-USR2", server);
                for (Socket s : waiting) {
                    client.call(() -> {
                        assertTrue(Arrays.equals(PONG, s.getInputStream().readNBytes(PONG.length)), "a client was answered");
                        return null;
                    });
                }
            } finally {
                for (Socket s : waiting) {
                    s.close();
                }
            }
        }
        nodes.assertServiceOn("node-a", server, StreamService.VIP);
        assertFalse(nodes.inNode("node-a", "nft", "list", "set", "inet", "pmig", "syn4").contains(StreamService.VIP),
            "new connections are no longer held");
    }

    /** A client that connects and sends its request; the answer is read later. */
    private static Socket connectAndAsk() throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(StreamService.VIP, Integer.parseInt(StreamService.PORT)), 60_000);
        s.setSoTimeout(30_000);
        s.getOutputStream().write(PING);
        return s;
    }

    /** Connects, asks "ping 1", expects "pong 1", closes; again until stopped. Counts answers and failures by kind. */
    private static Void storm(AtomicBoolean stop, AtomicLong answered, Map<String, AtomicLong> failures) {
        while (!stop.get()) {
            try (Socket s = connectAndAsk()) {
                byte[] got = s.getInputStream().readNBytes(PONG.length);
                if (Arrays.equals(PONG, got)) {
                    answered.incrementAndGet();
                    Thread.sleep(ThreadLocalRandom.current().nextInt(CLIENT_PAUSE_MILLIS));
                } else {
                    failures.computeIfAbsent("wrong answer: " + new String(got, StandardCharsets.US_ASCII), k -> new AtomicLong())
                        .incrementAndGet();
                }
            } catch (InterruptedException e) {
                return null;
            } catch (IOException e) {
                failures.computeIfAbsent(e.getClass().getSimpleName() + ": " + e.getMessage(), k -> new AtomicLong()).incrementAndGet();
            }
        }
        return null;
    }

    /** A TcpExt counter of /proc/net/netstat's text (a line of names, then one of values). */
    private static long counter(String netstat, String name) {
        String[] lines = netstat.split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith("TcpExt:") && lines[i + 1].startsWith("TcpExt:")) {
                List<String> names = List.of(lines[i].trim().split("\\s+"));
                return Long.parseLong(lines[i + 1].trim().split("\\s+")[names.indexOf(name)]);
            }
        }
        throw new AssertionError("no TcpExt counters in " + netstat);
    }

    private static void awaitAnswers(AtomicLong answered, long atLeast) throws InterruptedException {
        for (int i = 0; i < 1200 && answered.get() < atLeast; i++) {
            Thread.sleep(50);
        }
        assertTrue(answered.get() >= atLeast, "only " + answered.get() + " connections answered, expected " + atLeast);
    }
}
