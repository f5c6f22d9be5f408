import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Checkpoint and restore of a stream-server holding N established connections (plus its
 * listener), with a stream-client checking every byte on the other ends; run inside a network
 * namespace of its own (bench/tcp-sockets makes it). Prints medians and the cost per socket,
 * (T(N) - T(1)) / (N - 1) from the same run, and writes JSON. Inbound packets to the server's
 * port are dropped while it is away, as in a real move.
 *
 *   java -cp CLASSPATH bench/src/TcpSocketsBench.java NATIVE_DIR OUT.json RUNS N...
 */
public class TcpSocketsBench {
    record Row(int connections, double checkpointMs, double frozenMs, double restoreMs) {
    }

    private static final String PORT = "7100";
    /** The client runs this long plus a second per thousand connections: past the move, then it judges. */
    private static final int CLIENT_BASE_SECONDS = 8;

    public static void main(String[] args) throws Exception {
        Path bin = Path.of(args[0]);
        Path out = Path.of(args[1]);
        int runs = Integer.parseInt(args[2]);
        List<Integer> sizes = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            sizes.add(Integer.parseInt(args[i]));
        }
        sh("ip link set lo up");
        once(bin, 1); // warm-up: class loading and JIT, not measured
        List<Row> rows = new ArrayList<>();
        for (int n : sizes) {
            double[] c = new double[runs], f = new double[runs], r = new double[runs];
            for (int run = 0; run < runs; run++) {
                double[] one = once(bin, n);
                c[run] = one[0];
                f[run] = one[1];
                r[run] = one[2];
            }
            rows.add(new Row(n, median(c), median(f), median(r)));
        }
        print(rows, runs);
        writeJson(out, rows, runs);
    }

    /** {checkpoint ms, frozen ms, restore ms} of one move of a server with n connections. */
    private static double[] once(Path bin, int n) throws Exception {
        int server = startServer(bin);
        Path verdict = Files.createTempFile("client", ".out");
        Process client = new ProcessBuilder(bin.resolve("stream-client").toString(), "127.0.0.1", PORT,
            Integer.toString(CLIENT_BASE_SECONDS + n / 1000), "--connections", Integer.toString(n), "--rate", "1")
            .redirectOutput(verdict.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        awaitConnections(server, n);
        Path dir = Files.createTempDirectory("pmig-tcp-bench");
        sh("nft add table ip benchhold; nft add chain ip benchhold in '{ type filter hook input priority 0; }'; "
            + "nft add rule ip benchhold in tcp dport " + PORT + " drop");
        CheckpointReport c;
        RestoreReport r;
        try {
            c = new CheckpointEngine().checkpoint(server, dir, new CheckpointOptions(false));
            awaitGone(server);
            r = new RestoreEngine().restore(dir, new RestoreOptions(false));
        } finally {
            sh("nft delete table ip benchhold");
        }
        client.waitFor();
        sh("kill -9 " + r.pid());
        awaitGone(r.pid());
        String said = Files.readString(verdict);
        if (!said.startsWith("PASS")) {
            throw new IllegalStateException("the client saw the move with " + n + " connections: " + said);
        }
        Files.delete(verdict);
        Files.deleteIfExists(dir.resolve(CheckpointEngine.IMAGE_FILE));
        Files.deleteIfExists(dir);
        return new double[] {c.totalNanos() / 1e6, c.frozenNanos() / 1e6, r.totalNanos() / 1e6};
    }

    private static int startServer(Path bin) throws Exception {
        Path pidFile = Files.createTempFile("server", ".pid");
        new ProcessBuilder("setsid", "--fork", "sh", "-c", "echo $$ > " + pidFile + "; exec "
            + bin.resolve("stream-server") + " 127.0.0.1 " + PORT + " 1")
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD)
            .start().waitFor();
        for (int i = 0; i < 1000; i++) {
            String s = Files.readString(pidFile).trim();
            if (!s.isEmpty()) {
                Files.delete(pidFile);
                return Integer.parseInt(s);
            }
            Thread.sleep(2);
        }
        throw new IllegalStateException("stream-server did not start");
    }

    /** Until the server holds n accepted connections and has read from each (so none waits in the accept queue). */
    private static void awaitConnections(int server, int n) throws Exception {
        for (int i = 0; i < 3000; i++) {
            long sockets;
            try (var fds = Files.list(Path.of("/proc", Integer.toString(server), "fd"))) {
                sockets = fds.filter(p -> {
                    try {
                        return Files.readSymbolicLink(p).toString().startsWith("socket:");
                    } catch (Exception e) {
                        return false;
                    }
                }).count();
            }
            if (sockets >= n + 1) {
                Thread.sleep(500);
                return;
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException("stream-server did not accept " + n + " connections");
    }

    private static void awaitGone(int pid) throws InterruptedException {
        for (int i = 0; i < 3000 && Files.exists(Path.of("/proc/" + pid)); i++) {
            Thread.sleep(2);
        }
    }

    private static void sh(String script) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
        String said = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(script + ": " + said);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static void print(List<Row> rows, int runs) {
        Row base = rows.get(0);
        System.out.printf(Locale.ROOT, "TCP connections: checkpoint (kill) and restore of a server, median of %d runs%n", runs);
        System.out.printf(Locale.ROOT, "%12s %12s %10s %11s %16s %16s%n", "connections", "checkpoint", "frozen", "restore",
            "dump/socket", "restore/socket");
        for (Row r : rows) {
            String dump = r == base ? "-" : String.format(Locale.ROOT, "%.1f us", (r.frozenMs - base.frozenMs) * 1000 / (r.connections - base.connections));
            String rst = r == base ? "-" : String.format(Locale.ROOT, "%.1f us", (r.restoreMs - base.restoreMs) * 1000 / (r.connections - base.connections));
            System.out.printf(Locale.ROOT, "%12d %9.1f ms %7.1f ms %8.1f ms %16s %16s%n", r.connections, r.checkpointMs, r.frozenMs,
                r.restoreMs, dump, rst);
        }
    }

    private static void writeJson(Path out, List<Row> rows, int runs) throws Exception {
        Row base = rows.get(0);
        StringBuilder b = new StringBuilder("{\n  \"benchmark\": \"tcp-sockets\",\n  \"runs\": " + runs + ",\n  \"rows\": [\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            double per = r == base ? 0 : 1.0 / (r.connections - base.connections);
            b.append(String.format(Locale.ROOT,
                "    {\"connections\": %d, \"checkpointMs\": %.2f, \"frozenMs\": %.2f, \"restoreMs\": %.2f, "
                    + "\"dumpUsPerSocket\": %.2f, \"restoreUsPerSocket\": %.2f}%s%n",
                r.connections, r.checkpointMs, r.frozenMs, r.restoreMs, (r.frozenMs - base.frozenMs) * 1000 * per,
                (r.restoreMs - base.restoreMs) * 1000 * per, i + 1 < rows.size() ? "," : ""));
        }
        b.append("  ]\n}\n");
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, b.toString());
        System.out.println("wrote " + out);
    }
}
