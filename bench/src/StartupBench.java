import io.pmig.daemon.control.ControlClient;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * How soon an operator's commands answer, each a fresh JVM as an operator starts it through the
 * launchers in bin/: `pmig --version`, `pmigd` until its control socket answers a status request
 * (its warm-up goes on after that), and a `pmig status` round trip to that daemon once warmed up. The daemon runs
 * with a configuration of its own: plaintext, loopback, a control socket in a temporary directory,
 * no VIP interface (nothing on the host's network changes).
 *
 *   java -cp CLASSPATH bench/src/StartupBench.java REPOSITORY RUNS OUT.json
 */
public class StartupBench {
    public static void main(String[] args) throws Exception {
        Path repo = Path.of(args[0]);
        int runs = Integer.parseInt(args[1]);
        Path out = Path.of(args[2]);
        Path dir = Files.createTempDirectory("pmig-bench-startup-");
        Path socket = dir.resolve("pmigd.sock");
        Path config = dir.resolve("pmigd.conf");
        Files.writeString(config, "node.name = bench\nlisten = 127.0.0.1:" + freePort() + "\nplaintext = true\n"
                + "control.socket = " + socket + "\nvip.interface = pmig-bench-none\n");
        String pmig = repo.resolve("bin/pmig").toString();
        String pmigd = repo.resolve("bin/pmigd").toString();
        double loadBefore = loadAverage();

        List<Double> version = new ArrayList<>();
        List<Double> ready = new ArrayList<>();
        List<Double> status = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
            version.add(seconds(pmig, "--version"));
            Files.deleteIfExists(socket);
            long start = System.nanoTime();
            Process daemon = new ProcessBuilder(pmigd, "--config", config.toString())
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(dir.resolve("pmigd.log").toFile()).start();
            try {
                ControlClient client = new ControlClient(socket);
                while (!client.isAnswering()) {
                    if (!daemon.isAlive()) {
                        throw new IllegalStateException("pmigd exited " + daemon.exitValue() + ": " + Files.readString(dir.resolve("pmigd.log")));
                    }
                    if (System.nanoTime() - start > TimeUnit.SECONDS.toNanos(120)) {
                        throw new IllegalStateException("pmigd did not answer in 120 s");
                    }
                    Thread.sleep(5);
                }
                ready.add((System.nanoTime() - start) / 1e9);
                Path log = dir.resolve("pmigd.log");
                while (!Files.readString(log).matches("(?s).*event=(warmed-up|warm-up-failed).*")) {
                    Thread.sleep(20);                               // the round trip of a running node, not one beside the warm-up
                }
                status.add(seconds(pmig, "status", "--daemon-socket", socket.toString()));
            } finally {
                daemon.destroy();                                   // SIGTERM: its clean shutdown
                daemon.waitFor(60, TimeUnit.SECONDS);
            }
        }
        double loadAfter = loadAverage();

        System.out.printf(Locale.ROOT, "start-up of pmig and pmigd through bin/, %d runs each, %d cores, load average %.1f before, %.1f after%n",
                runs, Runtime.getRuntime().availableProcessors(), loadBefore, loadAfter);
        System.out.printf(Locale.ROOT, "%-32s %10s %10s %10s %10s%n", "what", "median s", "min s", "max s", "target s");
        row("pmig --version", version, 0.2);
        row("pmigd until its socket answers", ready, 2.0);
        row("pmig status round trip", status, 0.2);
        Files.writeString(out, String.format(Locale.ROOT, """
                {
                  "benchmark": "startup",
                  "runs": %d,
                  "cores": %d,
                  "loadAverageBefore": %.2f,
                  "loadAverageAfter": %.2f,
                  "pmigVersion": %s,
                  "pmigdReady": %s,
                  "pmigStatus": %s
                }
                """, runs, Runtime.getRuntime().availableProcessors(), loadBefore, loadAfter,
                json(version, 0.2), json(ready, 2.0), json(status, 0.2)));
        try (var files = Files.walk(dir)) {
            files.sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** Wall time of one command to its exit; a failure ends the benchmark with its output. */
    private static double seconds(String... command) throws IOException, InterruptedException {
        long start = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue() + ": " + output);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static double loadAverage() throws IOException {
        return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    }

    private static void row(String what, List<Double> values, double target) {
        List<Double> v = sorted(values);
        System.out.printf(Locale.ROOT, "%-32s %10.3f %10.3f %10.3f %10.1f%n", what, median(v), v.get(0), v.get(v.size() - 1), target);
    }

    private static String json(List<Double> values, double target) {
        List<Double> v = sorted(values);
        return String.format(Locale.ROOT, "{\"medianSeconds\": %.3f, \"minSeconds\": %.3f, \"maxSeconds\": %.3f, \"targetSeconds\": %.1f}",
                median(v), v.get(0), v.get(v.size() - 1), target);
    }

    private static List<Double> sorted(List<Double> values) {
        List<Double> v = new ArrayList<>(values);
        Collections.sort(v);
        return v;
    }

    private static double median(List<Double> sorted) {
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
