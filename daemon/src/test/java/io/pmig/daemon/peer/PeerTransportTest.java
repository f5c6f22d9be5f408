package io.pmig.daemon.peer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.daemon.TestNodes;
import io.pmig.daemon.config.Bandwidth;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.net.EventLoops;
import java.io.IOException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The peer transport between two daemons on loopback: mutual TLS, refusals, plaintext, requests, streams. */
class PeerTransportTest {
    private static final HostPort NOWHERE = new HostPort("127.0.0.1", 1);

    @TempDir
    Path dir;

    private EventLoops loops;
    private ExecutorService handlerThreads;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void start() {
        loops = EventLoops.start(2);
        handlerThreads = Executors.newFixedThreadPool(4);
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        handlerThreads.shutdownNow();
        loops.close();
    }

    private PeerHandlers handlers() {
        return new PeerHandlers(handlerThreads)
                .onRequest("echo", (peer, request) -> new Message("echoed", (peer.peerName() + ":"
                        + new String(request.body(), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8)))
                .onRequest("fail", (peer, request) -> {
                    throw new IllegalStateException("pid 4242 is in use");
                })
                .onStream("digest", (peer, header, data) -> new Message("sha256", sha256(data)));
    }

    /** Starts node {@code name}'s server accepting {@code peers}; returns its address. */
    private HostPort server(String name, Path certs, boolean plaintext, String... peers) {
        Map<String, HostPort> accepted = new TreeMap<>();
        for (String peer : peers) {
            accepted.put(peer, NOWHERE);
        }
        DaemonConfig config = TestNodes.node(name, certs, accepted, plaintext);
        PeerServer server = new PeerServer(config, PeerTls.of(config), loops, handlers(), event -> { });
        toClose.add(server);
        InetSocketAddress bound = server.start();
        return new HostPort("127.0.0.1", bound.getPort());
    }

    private PeerClient client(String name, Path certs, boolean plaintext, String peer, HostPort address) {
        DaemonConfig config = TestNodes.node(name, certs, Map.of(peer, address), plaintext);
        PeerClient client = new PeerClient(config, PeerTls.of(config), loops, handlers());
        toClose.add(client);
        return client;
    }

    @Test
    void mutualTlsSessionAnswersRequestsBothWays() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        HostPort b = server("node-b", certs, false, "node-a");
        PeerSession session = client("node-a", certs, false, "node-b", b).connect("node-b");

        assertEquals("node-b", session.peerName());
        assertTrue(session.encrypted());
        Message response = session.request(new Message("echo", "hi".getBytes(StandardCharsets.UTF_8)));
        assertEquals("echoed", response.type());
        assertEquals("node-a:hi", new String(response.body(), StandardCharsets.UTF_8), "node-b saw the caller as node-a");
        assertEquals("pong", session.request(Message.of(PeerHandlers.PING)).type());
    }

    @Test
    void sessionReusesAnOpenConnectionAndReplacesAClosedOne() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        HostPort b = server("node-b", certs, false, "node-a");
        PeerClient a = client("node-a", certs, false, "node-b", b);

        PeerSession first = a.session("node-b");
        assertTrue(first == a.session("node-b"), "the open session is reused");
        first.close();
        assertFalse(first.isOpen());
        PeerSession second = a.session("node-b");
        assertTrue(second != first && second.isOpen());
        assertEquals("pong", second.request(Message.of(PeerHandlers.PING)).type());
        PeerException closed = assertThrows(PeerException.class, () -> first.request(Message.of(PeerHandlers.PING)));
        assertEquals(PeerException.Reason.CLOSED, closed.reason(), closed.getMessage());
    }

    @Test
    void handlerFailuresAndUnknownTypesComeBackAsRemoteErrors() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        HostPort b = server("node-b", certs, false, "node-a");
        PeerSession session = client("node-a", certs, false, "node-b", b).connect("node-b");

        PeerException failed = assertThrows(PeerException.class, () -> session.request(Message.of("fail")));
        assertEquals(PeerException.Reason.REMOTE, failed.reason());
        assertEquals("node-b: pid 4242 is in use", failed.getMessage());
        PeerException unknown = assertThrows(PeerException.class, () -> session.request(Message.of("no-such")));
        assertTrue(unknown.getMessage().contains("no handler for requests of type 'no-such'"), unknown.getMessage());
        assertEquals("pong", session.request(Message.of(PeerHandlers.PING)).type(), "the session survives both");
    }

    @Test
    void serverCertificateFromAnotherCaIsRefused() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        Path foreign = TestNodes.certificates(dir.resolve("foreign"), "node-b");
        HostPort b = server("node-b", foreign, false, "node-a");
        PeerClient a = client("node-a", certs, false, "node-b", b);

        PeerException refused = assertThrows(PeerException.class, () -> a.connect("node-b"));
        assertEquals(PeerException.Reason.BAD_CERTIFICATE, refused.reason(), refused.getMessage());
        assertTrue(refused.getMessage().contains("not signed by this cluster's CA"), refused.getMessage());
    }

    @Test
    void clientCertificateFromAnotherCaIsRefused() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        Path foreign = TestNodes.certificates(dir.resolve("foreign"), "node-a");
        HostPort b = server("node-b", certs, false, "node-a");
        // node-a trusts the cluster CA but presents a certificate of another CA
        DaemonConfig config = TestNodes.node("node-a", certs, Map.of("node-b", b), false);
        config = new DaemonConfig(config.source(), "node-a", config.listen(), config.peers(), config.vipInterface(),
                certs.resolve("ca.pem"), foreign.resolve("node-a.pem"), foreign.resolve("node-a.key"), false,
                config.controlSocket(), config.controlSocketMode(), config.stateDirectory(), config.limits(), config.vip(), config.precopy(),
                config.migrationBandwidth(), config.pause(), config.clock(), config.dns(), config.warmUpMoves());
        PeerClient a = new PeerClient(config, PeerTls.of(config), loops, handlers());
        toClose.add(a);

        PeerException refused = assertThrows(PeerException.class, () -> a.connect("node-b"));
        assertEquals(PeerException.Reason.BAD_CERTIFICATE, refused.reason(), refused.getMessage());
        assertTrue(refused.getMessage().contains("refused this node's certificate"), refused.getMessage());
    }

    @Test
    void certificateOfANodeThatIsNotAPeerIsRefused() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b", "node-c");
        HostPort b = server("node-b", certs, false, "node-a");
        PeerClient c = client("node-c", certs, false, "node-b", b);

        PeerException refused = assertThrows(PeerException.class, () -> c.connect("node-b"));
        assertEquals(PeerException.Reason.REFUSED, refused.reason(), refused.getMessage());
        assertTrue(refused.getMessage().contains("'node-c', which is not among node-b's peers"), refused.getMessage());
    }

    @Test
    void aServerWithTheCertificateOfAnotherNodeIsRefused() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b", "node-c");
        HostPort c = server("node-c", certs, false, "node-a");
        // node-a believes node-b is at node-c's address
        PeerClient a = client("node-a", certs, false, "node-b", c);

        PeerException refused = assertThrows(PeerException.class, () -> a.connect("node-b"));
        assertEquals(PeerException.Reason.BAD_CERTIFICATE, refused.reason(), refused.getMessage());
        assertTrue(refused.getMessage().contains("presented the certificate of 'node-c'"), refused.getMessage());
    }

    @Test
    void plaintextOnlyWhenBothSidesAreConfiguredForIt() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        HostPort plain = server("node-b", certs, true, "node-a");
        PeerSession session = client("node-a", certs, true, "node-b", plain).connect("node-b");
        assertFalse(session.encrypted());
        assertEquals("node-b", session.peerName());
        assertEquals("pong", session.request(Message.of(PeerHandlers.PING)).type());

        PeerException tlsToPlain = assertThrows(PeerException.class,
                () -> client("node-a", certs, false, "node-b", plain).connect("node-b"));
        assertTrue(tlsToPlain.reason() == PeerException.Reason.PROTOCOL, tlsToPlain.reason() + ": " + tlsToPlain.getMessage());

        HostPort tls = server("node-b", certs, false, "node-a");
        PeerException plainToTls = assertThrows(PeerException.class,
                () -> client("node-a", certs, true, "node-b", tls).connect("node-b"));
        assertEquals(PeerException.Reason.PROTOCOL, plainToTls.reason(), plainToTls.getMessage());
        assertTrue(plainToTls.getMessage().contains("plaintext"), plainToTls.getMessage());
    }

    @Test
    void plaintextServerRefusesANameThatIsNotAPeer() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-b", "node-x");
        HostPort b = server("node-b", certs, true, "node-a");
        PeerException refused = assertThrows(PeerException.class,
                () -> client("node-x", certs, true, "node-b", b).connect("node-b"));
        assertEquals(PeerException.Reason.REFUSED, refused.reason(), refused.getMessage());
    }

    @Test
    void aConnectionThatNeverSaysHelloIsClosed() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-b");
        Properties p = TestNodes.properties("node-b", certs, Map.of("node-a", NOWHERE), true);
        p.setProperty("limits.connect.timeout.millis", "300");
        DaemonConfig config = DaemonConfig.parse(p, "test");
        List<PeerServer.PeerEvent> events = new CopyOnWriteArrayList<>();
        PeerServer server = new PeerServer(config, PeerTls.of(config), loops, handlers(), events::add);
        toClose.add(server);
        int port = server.start().getPort();
        try (Socket silent = new Socket("127.0.0.1", port)) {
            silent.setSoTimeout(10_000);
            long start = System.nanoTime();
            assertEquals(-1, silent.getInputStream().read(), "the server closed the silent connection");
            assertTrue(System.nanoTime() - start < 5_000_000_000L);
        }
        Thread.sleep(100);
        assertEquals("refused", events.get(0).kind());
        assertTrue(events.get(0).detail().contains("did not complete TLS and the hellos within 300 ms"), events.toString());
    }

    /** What a port scanner, a TLS client with no certificate and an HTTP client leave in the log: the real cause, not "plaintext". */
    @Test
    void unauthenticatedConnectionsAreRefusedNamingTheirCause() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-b");
        DaemonConfig config = TestNodes.node("node-b", certs, Map.of("node-a", NOWHERE), false);
        List<PeerServer.PeerEvent> events = new CopyOnWriteArrayList<>();
        PeerServer server = new PeerServer(config, PeerTls.of(config), loops, handlers(), events::add);
        toClose.add(server);
        int port = server.start().getPort();
        new Socket("127.0.0.1", port).close();
        awaitEvents(events, 1);
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(null, new TrustManager[] {new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        try (SSLSocket noCertificate = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port)) {
            noCertificate.setSoTimeout(10_000);
            noCertificate.startHandshake();
            noCertificate.getInputStream().read();
        } catch (IOException expected) {
            // the server ends the handshake
        }
        awaitEvents(events, 2);
        try (Socket http = new Socket("127.0.0.1", port)) {
            http.setSoTimeout(10_000);
            http.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            http.getInputStream().read();
        } catch (IOException closed) {
            // the server closes it
        }
        awaitEvents(events, 3);
        assertTrue(events.stream().allMatch(e -> e.kind().equals("refused") && !e.detail().contains("plaintext = true is set")),
            events.toString());
        assertTrue(events.get(0).detail().endsWith("closed the connection before the TLS handshake (a port scan or a health check?)"),
            events.get(0).detail());
        assertEquals("the peer at " + events.get(1).remote() + " presented no client certificate: only nodes with a certificate of"
            + " this cluster's CA (pmig certs init) are let in", events.get(1).detail());
        assertTrue(events.get(2).detail().endsWith("did not start TLS (it sent plaintext or another protocol, such as HTTP): a pmig"
            + " node with plaintext = true, or no pmig node at all"), events.get(2).detail());
    }

    private static void awaitEvents(List<PeerServer.PeerEvent> events, int count) throws InterruptedException {
        for (int i = 0; i < 2000 && events.size() < count; i++) {
            Thread.sleep(10);
        }
        assertEquals(count, events.size(), events.toString());
    }

    @Test
    void unreachablePeerIsReportedAsSuch() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a");
        PeerException unreachable = assertThrows(PeerException.class,
                () -> client("node-a", certs, false, "node-b", NOWHERE).connect("node-b"));
        assertEquals(PeerException.Reason.UNREACHABLE, unreachable.reason(), unreachable.getMessage());
        assertTrue(unreachable.getMessage().contains("node-b at 127.0.0.1:1"), unreachable.getMessage());
    }

    @Test
    void twoHundredMegabyteStreamArrivesIntactOverTls() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        HostPort b = server("node-b", certs, false, "node-a");
        PeerSession session = client("node-a", certs, false, "node-b", b).connect("node-b");

        long total = 200L << 20;
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        Random random = new Random(42);
        byte[] block = new byte[1 << 20];
        try (OutboundStream out = session.openStream(Message.of("digest"))) {
            for (long written = 0; written < total; written += block.length) {
                random.nextBytes(block);
                sent.update(block);
                if ((written >> 20) % 2 == 0) {
                    out.write(block); // OutputStream half of the API
                } else {
                    out.write(ByteBuffer.wrap(block)); // WritableByteChannel half
                }
            }
            Message reply = out.finish();
            assertEquals(total, out.bytesWritten());
            assertEquals("sha256", reply.type());
            assertArrayEquals(sent.digest(), reply.body(), "node-b's digest of what it read equals the sender's");
        }
    }

    @Test
    void aStreamKeepsToItsBandwidthLimit() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        HostPort b = server("node-b", certs, false, "node-a");
        PeerSession session = client("node-a", certs, false, "node-b", b).connect("node-b");
        long total = 40_000_000;

        double unlimitedSeconds = secondsToStream(session, total, Bandwidth.UNLIMITED);
        double limitedSeconds = secondsToStream(session, total, Bandwidth.megabytesPerSecond(20));

        assertTrue(limitedSeconds > 1.6 && limitedSeconds < 3, "40 MB at 20 MB/s take about 2 s: " + limitedSeconds + " s");
        assertTrue(unlimitedSeconds < limitedSeconds / 2, "unlimited, the same stream is much faster: " + unlimitedSeconds + " s");
    }

    @Test
    void aLimitCanBeLiftedInTheMiddleOfAStream() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        HostPort b = server("node-b", certs, false, "node-a");
        PeerSession session = client("node-a", certs, false, "node-b", b).connect("node-b");
        byte[] block = new byte[1 << 20];
        try (OutboundStream out = session.openStream(Message.of("digest"), Bandwidth.megabytesPerSecond(1))) {
            out.write(block);
            out.setBandwidth(Bandwidth.UNLIMITED);
            long start = System.nanoTime();
            for (int i = 0; i < 20; i++) {
                out.write(block);
            }
            out.finish();
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(seconds < 10, "the next 20 MB at 1 MB/s would take 20 s, without the limit far less: " + seconds + " s");
        }
    }

    /** Streams {@code total} bytes to node-b's digest handler at {@code bandwidth}; returns the seconds until its answer. */
    private static double secondsToStream(PeerSession session, long total, Bandwidth bandwidth) {
        byte[] block = new byte[1 << 20];
        long start = System.nanoTime();
        try (OutboundStream out = session.openStream(Message.of("digest"), bandwidth)) {
            assertEquals(bandwidth, out.bandwidth());
            for (long written = 0; written < total; written += block.length) {
                out.write(block, 0, (int) Math.min(block.length, total - written));
            }
            assertEquals("sha256", out.finish().type());
        }
        return (System.nanoTime() - start) / 1e9;
    }

    @Test
    void senderWaitsWhileTheReceiverDoesNotRead() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        CountDownLatch mayRead = new CountDownLatch(1);
        DaemonConfig bConfig = TestNodes.node("node-b", certs, Map.of("node-a", NOWHERE), false);
        PeerServer server = new PeerServer(bConfig, PeerTls.of(bConfig), loops, new PeerHandlers(handlerThreads)
                .onStream("slow", (peer, header, data) -> {
                    mayRead.await();
                    long n = data.transferTo(java.io.OutputStream.nullOutputStream());
                    return Message.json("count", Map.of("bytes", n));
                }), event -> { });
        toClose.add(server);
        HostPort b = new HostPort("127.0.0.1", server.start().getPort());
        PeerSession session = client("node-a", certs, false, "node-b", b).connect("node-b");
        int window = bConfig.limits().streamWindowBytes();

        OutboundStream out = session.openStream(Message.of("slow"));
        long total = 4L * window;
        Thread writer = new Thread(() -> {
            byte[] block = new byte[64 * 1024];
            for (long w = 0; w < total; w += block.length) {
                out.write(block);
            }
        });
        writer.start();
        Thread.sleep(500);
        long early = out.bytesWritten();
        assertTrue(writer.isAlive(), "the writer is held back");
        assertTrue(early <= window, "no more than the window (" + window + ") went out before the receiver read: " + early);
        mayRead.countDown();
        writer.join(TimeUnit.SECONDS.toMillis(20));
        assertFalse(writer.isAlive());
        assertEquals(total, out.finish().bodyJson().get("bytes").asLong());
    }

    @Test
    void abortedStreamFailsTheReceiversRead() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b");
        CountDownLatch failed = new CountDownLatch(1);
        StringBuilder why = new StringBuilder();
        DaemonConfig bConfig = TestNodes.node("node-b", certs, Map.of("node-a", NOWHERE), false);
        PeerServer server = new PeerServer(bConfig, PeerTls.of(bConfig), loops, new PeerHandlers(handlerThreads)
                .onStream("image", (peer, header, data) -> {
                    try {
                        data.transferTo(java.io.OutputStream.nullOutputStream());
                        return Message.of("complete");
                    } catch (PeerException e) {
                        why.append(e.getMessage());
                        failed.countDown();
                        throw e;
                    }
                }), event -> { });
        toClose.add(server);
        HostPort b = new HostPort("127.0.0.1", server.start().getPort());
        PeerSession session = client("node-a", certs, false, "node-b", b).connect("node-b");

        try (OutboundStream out = session.openStream(Message.of("image"))) {
            out.write(new byte[1 << 20]);
            out.abort("checkpoint failed: pid 4242 exited");
        }
        assertTrue(failed.await(10, TimeUnit.SECONDS), "the receiving handler saw the abort");
        assertTrue(why.toString().contains("pid 4242 exited"), why.toString());
        assertEquals("pong", session.request(Message.of(PeerHandlers.PING)).type(), "the session survives an aborted stream");
    }

    private static byte[] sha256(InputStream in) throws IOException {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[256 * 1024];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                digest.update(buffer, 0, n);
            }
            return digest.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
