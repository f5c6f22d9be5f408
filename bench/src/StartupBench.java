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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How soon an operator's commands answer, each a fresh JVM as an operator starts it through the
 * launchers in bin/: `pmig --version`, `pmigd` until its control socket answers a status request
 * (its warm-up goes on after that), and a `pmig status` round trip to that daemon once warmed up. The daemon runs
 * with a configuration of its own: plaintext, loopback, a control socket in a temporary directory,
 * no VIP interface (nothing on the host's network changes). Beside the wall times, the CPU time
 * (user and system) of the two pmig commands: on a busy machine the wall time is mostly waiting
 * for a core, the CPU time is what the command costs.
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
        List<Double> versionCpu = new ArrayList<>();
        List<Double> ready = new ArrayList<>();
        List<Double> status = new ArrayList<>();
        List<Double> statusCpu = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
            double[] versionRun = seconds(pmig, "--version");
            version.add(versionRun[0]);
            versionCpu.add(versionRun[1]);
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
                double[] statusRun = seconds(pmig, "status", "--daemon-socket", socket.toString());
                status.add(statusRun[0]);
                statusCpu.add(statusRun[1]);
            } finally {
                daemon.destroy();                                   // SIGTERM: its clean shutdown
                daemon.waitFor(60, TimeUnit.SECONDS);
            }
        }
        double loadAfter = loadAverage();

        System.out.printf(Locale.ROOT, "start-up of pmig and pmigd through bin/, %d runs each, %d cores, load average %.1f before, %.1f after%n",
                runs, Runtime.getRuntime().availableProcessors(), loadBefore, loadAfter);
        System.out.printf(Locale.ROOT, "%-32s %10s %10s %10s %10s %12s%n", "what", "median s", "min s", "max s", "target s", "CPU median s");
        row("pmig --version", version, 0.2, versionCpu);
        row("pmigd until its socket answers", ready, 2.0, List.of());
        row("pmig status round trip", status, 0.2, statusCpu);
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
                json(version, 0.2, versionCpu), json(ready, 2.0, List.of()), json(status, 0.2, statusCpu)));
        try (var files = Files.walk(dir)) {
            files.sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /**
     * Wall time and CPU time (user and system) of one command to its exit; a failure ends the
     * benchmark with its output. The shell it runs in reports the CPU time with times(1), whose last
     * line is its children's.
     */
    private static double[] seconds(String... command) throws IOException, InterruptedException {
        List<String> shell = new ArrayList<>(List.of("sh", "-c", "\"$@\"; status=$?; times; exit $status", "sh"));
        shell.addAll(List.of(command));
        long start = System.nanoTime();
        Process p = new ProcessBuilder(shell).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " exited " + p.exitValue() + ": " + output);
        }
        double wall = (System.nanoTime() - start) / 1e9;
        Matcher children = Pattern.compile("(\\d+)m([\\d.]+)s (\\d+)m([\\d.]+)s\\s*$").matcher(output);
        if (!children.find()) {
            throw new IllegalStateException("no CPU times from sh's times after " + String.join(" ", command) + ": " + output);
        }
        double cpu = 60 * Double.parseDouble(children.group(1)) + Double.parseDouble(children.group(2))
                + 60 * Double.parseDouble(children.group(3)) + Double.parseDouble(children.group(4));
        return new double[] {wall, cpu};
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static double loadAverage() throws IOException {
        return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    }

    /** A row of the table; {@code cpu} is empty where no CPU time is measured. */
    private static void row(String what, List<Double> values, double target, List<Double> cpu) {
        List<Double> v = sorted(values);
        System.out.printf(Locale.ROOT, "%-32s %10.3f %10.3f %10.3f %10.1f %12s%n", what, median(v), v.get(0), v.get(v.size() - 1), target,
                cpu.isEmpty() ? "-" : String.format(Locale.ROOT, "%.3f", median(sorted(cpu))));
    }

    private static String json(List<Double> values, double target, List<Double> cpu) {
        List<Double> v = sorted(values);
        return String.format(Locale.ROOT, "{\"medianSeconds\": %.3f, \"minSeconds\": %.3f, \"maxSeconds\": %.3f, \"targetSeconds\": %.1f%s}",
                median(v), v.get(0), v.get(v.size() - 1), target,
                cpu.isEmpty() ? "" : String.format(Locale.ROOT, ", \"cpuMedianSeconds\": %.3f", median(sorted(cpu))));
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
