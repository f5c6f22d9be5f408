import io.pmig.daemon.certs.ClusterCertificates;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.net.EventLoops;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.OutboundStream;
import io.pmig.daemon.peer.PeerClient;
import io.pmig.daemon.peer.PeerHandlers;
import io.pmig.daemon.peer.PeerServer;
import io.pmig.daemon.peer.PeerSession;
import io.pmig.daemon.peer.PeerTls;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Throughput of the peer transport's data stream between two daemons' peer stacks on loopback
 * (one JVM, the daemon's event loops and handler threads), with mutual TLS and in plaintext mode,
 * alternating run by run so both see the same machine; plus the request round trip. The receiver
 * reads every byte (and counts them) as a restore would; the sender writes from one buffer, so
 * the figures are the transport's, not a data source's.
 *
 *   java -cp CLASSPATH bench/src/PeerStreamBench.java MEGABYTES RUNS OUT.json
 */
public class PeerStreamBench {
    public static void main(String[] args) throws Exception {
        long bytes = Long.parseLong(args[0]) << 20;
        int runs = Integer.parseInt(args[1]);
        Path out = Path.of(args[2]);
        Path certs = Files.createTempDirectory("pmig-bench-peer-stream-");
        new ClusterCertificates(certs).init(List.of("node-a", "node-b"), ClusterCertificates.DEFAULT_VALIDITY);
        ExecutorService handlerThreads = Executors.newFixedThreadPool(4);
        try (EventLoops loops = EventLoops.start(2)) {
            Setup tls = setup(certs, false, loops, handlerThreads);
            Setup plain = setup(certs, true, loops, handlerThreads);
            System.out.printf(Locale.ROOT, "peer stream over loopback (%s, TLS by %s), %d MiB per run, %d runs each, alternating%n",
                    loops.epoll() ? "epoll" : "nio", PeerTls.PROVIDER, bytes >> 20, runs);
            stream(tls.session, bytes); // warm-up of both paths: JIT, TLS session, buffer pools
            stream(plain.session, bytes);
            double[] tlsRates = new double[runs];
            double[] plainRates = new double[runs];
            for (int i = 0; i < runs; i++) {
                tlsRates[i] = stream(tls.session, bytes);
                plainRates[i] = stream(plain.session, bytes);
            }
            double[] tlsPing = pings(tls.session, 2000);
            double[] plainPing = pings(plain.session, 2000);
            tls.close();
            plain.close();

            double tlsMedian = median(tlsRates);
            double plainMedian = median(plainRates);
            System.out.printf(Locale.ROOT, "%-10s %14s %14s %14s %16s%n", "mode", "median MB/s", "min MB/s", "max MB/s", "ping median us");
            row("tls", tlsRates, median(tlsPing));
            row("plaintext", plainRates, median(plainPing));
            System.out.printf(Locale.ROOT, "TLS throughput is %.2f of plaintext (%.0f%% slower); ping %.2fx%n",
                    tlsMedian / plainMedian, 100 * (1 - tlsMedian / plainMedian), median(tlsPing) / median(plainPing));
            String json = String.format(Locale.ROOT, """
                    {
                      "benchmark": "peer-stream",
                      "transport": "%s",
                      "tlsProvider": "%s",
                      "bytesPerRun": %d,
                      "runs": %d,
                      "tls": {"medianMBps": %.1f, "minMBps": %.1f, "maxMBps": %.1f, "pingMedianUs": %.1f},
                      "plaintext": {"medianMBps": %.1f, "minMBps": %.1f, "maxMBps": %.1f, "pingMedianUs": %.1f},
                      "tlsOverPlaintext": %.3f
                    }
                    """, loops.epoll() ? "epoll" : "nio", PeerTls.PROVIDER, bytes, runs,
                    tlsMedian, min(tlsRates), max(tlsRates), median(tlsPing),
                    plainMedian, min(plainRates), max(plainRates), median(plainPing), tlsMedian / plainMedian);
            Files.createDirectories(out.toAbsolutePath().getParent());
            Files.writeString(out, json);
            System.out.println("wrote " + out);
        } finally {
            handlerThreads.shutdownNow();
            try (var files = Files.walk(certs)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
    }

    record Setup(PeerServer server, PeerClient client, PeerSession session) {
        void close() {
            client.close();
            server.close();
        }
    }

    static Setup setup(Path certs, boolean plaintext, EventLoops loops, ExecutorService handlerThreads) {
        DaemonConfig b = config("node-b", certs, "node-a", new HostPort("127.0.0.1", 1), plaintext);
        PeerHandlers receiving = new PeerHandlers(handlerThreads).onStream("bench", (peer, header, data) -> {
            ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
            long n = 0;
            for (int r; (r = data.read(buffer)) >= 0; buffer.clear()) {
                n += r;
            }
            return Message.json("received", Map.of("bytes", n));
        });
        PeerServer server = new PeerServer(b, PeerTls.of(b), loops, receiving, event -> { });
        int port = server.start().getPort();
        DaemonConfig a = config("node-a", certs, "node-b", new HostPort("127.0.0.1", port), plaintext);
        PeerClient client = new PeerClient(a, PeerTls.of(a), loops, new PeerHandlers(handlerThreads));
        return new Setup(server, client, client.connect("node-b"));
    }

    static DaemonConfig config(String node, Path certs, String peer, HostPort peerAddress, boolean plaintext) {
        Properties p = new Properties();
        p.setProperty("node.name", node);
        p.setProperty("listen", "127.0.0.1:0");
        p.setProperty("tls.ca", certs.resolve("ca.pem").toString());
        p.setProperty("tls.cert", certs.resolve(node + ".pem").toString());
        p.setProperty("tls.key", certs.resolve(node + ".key").toString());
        p.setProperty("plaintext", Boolean.toString(plaintext));
        p.setProperty("peer." + peer, peerAddress.toString());
        return DaemonConfig.parse(p, "bench config of " + node);
    }

    /** One stream of {@code bytes}; MB/s (10^6 bytes) from opening to the receiver's answer. */
    static double stream(PeerSession session, long bytes) {
        ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
        long start = System.nanoTime();
        try (OutboundStream out = session.openStream(Message.of("bench"))) {
            for (long sent = 0; sent < bytes; sent += block.capacity()) {
                block.clear();
                out.write(block);
            }
            long received = out.finish().bodyJson().get("bytes").asLong();
            if (received != bytes) {
                throw new IllegalStateException("sent " + bytes + " bytes, the receiver read " + received);
            }
        }
        return bytes / ((System.nanoTime() - start) / 1e9) / 1e6;
    }

    static double[] pings(PeerSession session, int count) {
        double[] micros = new double[count];
        for (int i = -count / 4; i < count; i++) {
            long t = System.nanoTime();
            session.request(Message.of(PeerHandlers.PING));
            if (i >= 0) {
                micros[i] = (System.nanoTime() - t) / 1e3;
            }
        }
        return micros;
    }

    static void row(String mode, double[] rates, double pingUs) {
        System.out.printf(Locale.ROOT, "%-10s %14.1f %14.1f %14.1f %16.1f%n", mode, median(rates), min(rates), max(rates), pingUs);
    }

    static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static double min(double[] values) {
        return Arrays.stream(values).min().orElse(0);
    }

    static double max(double[] values) {
        return Arrays.stream(values).max().orElse(0);
    }
}
