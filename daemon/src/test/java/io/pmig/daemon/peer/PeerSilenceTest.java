package io.pmig.daemon.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.daemon.TestNodes;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.net.EventLoops;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A session whose network goes quiet: heartbeats keep an idle session alive; a cut (the relay
 * between the two nodes stops passing bytes, the TCP connections stay up) ends it within
 * limits.peer.silence.millis, failing a request and waking a stream writer that waits for credit.
 */
class PeerSilenceTest {
    private static final int SILENCE_MILLIS = 800;

    @TempDir
    Path dir;

    private EventLoops loops;
    private ExecutorService threads;
    private PeerServer server;
    private PeerClient client;
    private CuttableRelay relay;

    @BeforeEach
    void start() throws IOException {
        loops = EventLoops.start(2);
        threads = Executors.newCachedThreadPool();
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        DaemonConfig b = config("node-b", certs, Map.of("node-a", new HostPort("127.0.0.1", 1)));
        PeerHandlers handlers = new PeerHandlers(threads)
                .onStream("slow-sink", (peer, header, data) -> {
                    Thread.sleep(60_000);   // reads nothing: the sender runs out of credit
                    return Message.of("never");
                });
        server = new PeerServer(b, PeerTls.of(b), loops, handlers, event -> { });
        int port = server.start().getPort();
        relay = new CuttableRelay(port, threads);
        DaemonConfig a = config("node-a", certs, Map.of("node-b", new HostPort("127.0.0.1", relay.port())));
        client = new PeerClient(a, PeerTls.of(a), loops, new PeerHandlers(threads));
    }

    @AfterEach
    void stop() throws IOException {
        client.close();
        server.close();
        relay.close();
        threads.shutdownNow();
        loops.close();
    }

    private static DaemonConfig config(String name, Path certs, Map<String, HostPort> peers) {
        Properties p = TestNodes.properties(name, certs, peers, false);
        p.setProperty("limits.peer.silence.millis", Integer.toString(SILENCE_MILLIS));
        return DaemonConfig.parse(p, "test config of " + name);
    }

    @Test
    void heartbeatsKeepAnIdleSessionAlive() throws InterruptedException {
        PeerSession session = client.connect("node-b");
        Thread.sleep(4L * SILENCE_MILLIS);
        assertTrue(session.isOpen(), "idle for four silence limits, kept alive by heartbeats");
        assertEquals("pong", session.request(Message.of(PeerHandlers.PING)).type());
    }

    @Test
    void aCutFailsAWaitingRequestWithinTheSilenceLimit() {
        PeerSession session = client.connect("node-b");
        relay.cut();
        long start = System.nanoTime();
        PeerException e = assertThrows(PeerException.class, () -> session.request(Message.of(PeerHandlers.PING)));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertEquals(PeerException.Reason.TIMEOUT, e.reason(), e.getMessage());
        assertTrue(e.getMessage().contains("limits.peer.silence.millis"), e.getMessage());
        assertTrue(millis < 3L * SILENCE_MILLIS, "failed after " + millis + " ms, not within about " + SILENCE_MILLIS);
        assertTrue(session.closed().isDone() || !session.isOpen());
    }

    @Test
    void aCutWakesAStreamWriterWaitingForCredit() {
        PeerSession session = client.connect("node-b");
        OutboundStream stream = session.openStream(Message.of("slow-sink"));
        byte[] chunk = new byte[1 << 20];
        long start = System.nanoTime();
        PeerException e = assertThrows(PeerException.class, () -> {
            for (int i = 0; i < 64; i++) {  // eight times the default credit window
                if (i == 4) {
                    relay.cut();
                }
                stream.write(chunk);
            }
        });
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertTrue(e.getMessage().contains("limits.peer.silence.millis"), e.getMessage());
        assertTrue(millis < 3L * SILENCE_MILLIS, "the writer woke after " + millis + " ms");
    }

    /** A TCP relay on loopback that can stop passing bytes without closing anything, like a dropping firewall. */
    private static final class CuttableRelay implements AutoCloseable {
        private final ServerSocket listener;
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();
        private volatile boolean cut;

        CuttableRelay(int targetPort, ExecutorService threads) throws IOException {
            listener = new ServerSocket();
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            threads.execute(() -> {
                try {
                    while (true) {
                        Socket in = listener.accept();
                        Socket out = new Socket("127.0.0.1", targetPort);
                        sockets.add(in);
                        sockets.add(out);
                        threads.execute(() -> pass(in, out));
                        threads.execute(() -> pass(out, in));
                    }
                } catch (IOException closed) {
                    // the relay was closed
                }
            });
        }

        int port() {
            return listener.getLocalPort();
        }

        void cut() {
            cut = true;
        }

        /** Copies one direction; after a cut, not even a close passes (the other side hears nothing, as behind a drop rule). */
        private void pass(Socket from, Socket to) {
            byte[] buffer = new byte[64 * 1024];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    if (!cut) {
                        out.write(buffer, 0, n);
                    }
                }
                if (!cut) {
                    to.shutdownOutput();
                }
            } catch (IOException closed) {
                // either side closed
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
