package io.pmig.cli.lab;

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
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;

/**
 * A server whose listener holds connections it does not accept: a move holds new connections to the VIP and waits for
 * the server to take them, and refuses after limits.listener.drain.millis, naming the listener and what it holds. The
 * connection attempt held meanwhile goes into node-a's stack (its client connects without retransmitting its SYN), and
 * every client is answered once the server accepts again. (ConnectStormTest moves a busy one.)
 */
@ExtendWith(FreshLab.class)
class ListenerDrainTest {
    private static final byte[] PING = "ping 1\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] PONG = "pong 1\n".getBytes(StandardCharsets.US_ASCII);
    private final LabNodes nodes = new LabNodes();

    @Test
    @Timeout(240)
    void aListenerThatDoesNotAcceptIsRefusedAndItsHeldClientsAreAnsweredHere() throws Exception {
        nodes.reconfigure("node-a", "limits.listener.drain.millis = 300");
        String server = StreamService.startSerialOnNodeA(8);
        nodes.inNode("node-a", "kill", "-USR1", server);
        // it stopped accepting once it sleeps (clock_nanosleep, syscall 230) instead of waiting in accept
        for (int i = 0; i < 1000 && !nodes.inNode("node-a", "cat", "/proc/" + server + "/syscall").startsWith("230 "); i++) {
            Thread.sleep(10);
        }
        try (InNamespace client = new InNamespace("client")) {
            List<Socket> waiting = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    waiting.add(client.call(ListenerDrainTest::connectAndAsk));
                }
                long synRetransmitted = synRetransmissions(client);
                CompletableFuture<Run> migration = CompletableFuture.supplyAsync(() -> pmigIn("node-a", "migrate", server, "--to",
                    "node-b", "--mode", "bundle", "--json"));
                // until the daemon holds new connections: its table may not be there yet
                for (int i = 0; i < 1200 && !nodes.inNodeAttempt("node-a", "nft", "list", "set", "inet", "pmig", "syn4").out()
                        .contains(StreamService.VIP); i++) {
                    Thread.sleep(5);
                }
                // a new client while new connections are held: its SYN waits in the hold
                waiting.add(client.call(ListenerDrainTest::connectAndAsk));
                Run refused = migration.get();
                assertEquals(ExitCodes.REFUSED, refused.exitCode(), refused.toString());
                String error = refused.json().get("error").asText();
                assertTrue(error.contains("listening TCP socket " + StreamService.VIP + ":" + StreamService.PORT
                    + " (3 connection(s) not accepted") && error.contains("limits.listener.drain.millis")
                    && error.contains("the process runs on here"), error);
                assertEquals(synRetransmitted, synRetransmissions(client),
                    "the held SYN was put into node-a's stack: its client did not retransmit it");
                nodes.inNode("node-a", "kill", "-USR2", server);
                for (Socket s : waiting) {
                    client.call(() -> {
                        assertTrue(Arrays.equals(PONG, s.getInputStream().readNBytes(PONG.length)), "a client was answered");
                        s.close();      // the server takes its next client when this one is done
                        return null;
                    });
                }
            } finally {
                for (Socket s : waiting) {
                    s.close();
                }
            }
        }
        assertEquals("stream-serial-s", nodes.inNode("node-a", "cat", "/proc/" + server + "/comm").strip(),
            "the server runs on node-a");
        assertFalse(nodes.isStopped("node-a", server), "and is not stopped");
        assertFalse(nodes.inNode("node-a", "nft", "list", "set", "inet", "pmig", "syn4").contains(StreamService.VIP),
            "new connections are no longer held");
    }

    /** SYNs the client host retransmitted so far (read from its own network namespace). */
    private static long synRetransmissions(InNamespace client) throws Exception {
        return client.call(() -> LabTestSupport.tcpCounter(Files.readString(Path.of("/proc/thread-self/net/netstat")),
            "TCPSynRetrans"));
    }

    /** A client that connects and sends its request; the answer is read later. */
    private static Socket connectAndAsk() throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(StreamService.VIP, Integer.parseInt(StreamService.PORT)), 60_000);
        s.setSoTimeout(30_000);
        s.getOutputStream().write(PING);
        return s;
    }
}
