import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * What the benchmarks that migrate through a lab's pmigds share (bench/migration,
 * bench/staged-migration, bench/tree-migration; compiled by their scripts onto the classpath, as
 * one source-file program cannot import another): a service started in node-a, moved between the
 * nodes with {@code pmig migrate --json} run in the node it leaves as an operator would, and
 * killed there.
 */
public final class LabMigration {
    /** Above the PIDs the daemons' JVM threads take in every node, so the service keeps its PID on node-b. */
    public static final int SERVICE_PID_AFTER = 20_000;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final String pmig;

    /** {@code pmig}: the bin/pmig launcher, for the lab and inside its nodes. */
    public LabMigration(String pmig) {
        this.pmig = pmig;
    }

    /**
     * Waits until each node's pmigd has ended its engine's warm-up (its throw-away moves, engine.warm-up.moves, which
     * the first migration would stop): the benchmarks measure daemons as they run once started a while ago.
     */
    public LabMigration awaitWarmedUp(String... nodes) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        for (String node : nodes) {
            while (true) {
                JsonNode engine = MAPPER.readTree(run(pmig, "lab", "exec", node, "--", pmig, "status", "--json")).path("warmUp");
                String state = engine.path("state").asText();
                if (!state.equals("starting") && !state.equals("running")) {
                    System.out.printf("%s: engine warmed up, %d moves in %.1f s (%s)%n", node, engine.path("moves").asInt(),
                        engine.path("millis").asLong() / 1e3, state);
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException(node + "'s pmigd still warms up after 3 minutes: " + engine);
                }
                Thread.sleep(500);
            }
        }
        return this;
    }

    /** Starts {@code command} detached in node-a and waits until it holds {@code residentMb} MB; returns its pid. */
    public int start(String command, long residentMb) throws Exception {
        String script = "setsid " + command + " </dev/null >/dev/null 2>&1 & pid=$!; "
            + "i=0; while [ \"$(awk '/^VmRSS/{print $2}' /proc/$pid/status)\" -lt " + (residentMb << 10) + " ]; do "
            + "i=$((i+1)); if [ $i -gt 1200 ]; then echo \"'" + command + "' did not fill " + residentMb + " MB\" >&2; exit 1; fi; "
            + "sleep 0.05; done; echo $pid";
        return Integer.parseInt(execWithPidsAfter("node-a", SERVICE_PID_AFTER, script).strip());
    }

    /**
     * Runs the sh {@code script} in {@code node}, the processes it starts taking PIDs after {@code pid} (at least
     * {@link #SERVICE_PID_AFTER}, so that they are free on the other nodes too).
     */
    public String execWithPidsAfter(String node, int pid, String script) throws Exception {
        return exec(node, "echo " + pid + " > /proc/sys/kernel/ns_last_pid; " + script);
    }

    /** Runs the sh {@code script} in {@code node}; returns its stdout. */
    public String exec(String node, String script) throws Exception {
        return run(pmig, "lab", "exec", node, "--", "sh", "-c", script);
    }

    /** Runs {@code pmig migrate PID --to node-b --json OPTIONS} in node-a; returns the daemon's report. */
    public JsonNode migrate(int pid, String... options) throws Exception {
        return migrate("node-a", "node-b", pid, options);
    }

    /** Runs {@code pmig migrate PID --to TO --json OPTIONS} in {@code from}; returns the daemon's report. */
    public JsonNode migrate(String from, String to, int pid, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(pmig, "lab", "exec", from, "--", pmig, "migrate", Integer.toString(pid),
            "--to", to, "--json"));
        command.addAll(Arrays.asList(options));
        JsonNode report = MAPPER.readTree(run(command.toArray(String[]::new)));
        if (report.path("restoredPid").asInt() != pid) {
            throw new IllegalStateException("unexpected report: " + report);
        }
        return report;
    }

    /** Kills the migrated service on node-b and waits until it is gone. */
    public void killOnNodeB(int pid) throws Exception {
        kill("node-b", List.of(pid));
    }

    /** Kills {@code pids} in {@code node} and waits until they are gone. */
    public void kill(String node, List<Integer> pids) throws Exception {
        String list = String.join(" ", pids.stream().map(String::valueOf).toList());
        exec(node, "kill -9 " + list + "; for p in " + list + "; do while [ -e /proc/$p ]; do sleep 0.01; done; done");
    }

    /** Starts {@code command} in the lab's client (its network namespace), its stderr into its stdout. */
    public static Process startInClient(String... command) throws Exception {
        List<String> inClient = new ArrayList<>(List.of("ip", "netns", "exec", System.getenv("PMIG_LAB_NAME") + "-client"));
        inClient.addAll(Arrays.asList(command));
        return new ProcessBuilder(inClient).redirectErrorStream(true).start();
    }

    /** Runs a command; returns its stdout, or fails with its output when it fails or takes over 5 minutes. */
    public static String run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).start();
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> {
            try {
                return process.getErrorStream().readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        String out = new String(process.getInputStream().readAllBytes());
        if (!process.waitFor(300, TimeUnit.SECONDS) || process.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out + new String(err.get()));
        }
        return out;
    }

    /** The median of {@code field} over {@code results}. */
    public static <T> double median(List<T> results, ToDoubleFunction<T> field) {
        return median(results.stream().mapToDouble(field).toArray());
    }

    public static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
