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
 * bench/staged-migration; compiled by their scripts onto the classpath, as one source-file program
 * cannot import another): a service started in node-a, moved to node-b with
 * {@code pmig migrate --json} run in node-a as an operator would, and killed there.
 */
public final class LabMigration {
    /** Above the PIDs the daemons' JVM threads take in every node, so the service keeps its PID on node-b. */
    private static final int SERVICE_PID_AFTER = 20_000;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final String pmig;

    /** {@code pmig}: the bin/pmig launcher, for the lab and inside its nodes. */
    public LabMigration(String pmig) {
        this.pmig = pmig;
    }

    /** Starts {@code command} detached in node-a and waits until it holds {@code residentMb} MB; returns its pid. */
    public int start(String command, long residentMb) throws Exception {
        String script = "echo " + SERVICE_PID_AFTER + " > /proc/sys/kernel/ns_last_pid; "
            + "setsid " + command + " </dev/null >/dev/null 2>&1 & pid=$!; "
            + "i=0; while [ \"$(awk '/^VmRSS/{print $2}' /proc/$pid/status)\" -lt " + (residentMb << 10) + " ]; do "
            + "i=$((i+1)); if [ $i -gt 1200 ]; then echo \"'" + command + "' did not fill " + residentMb + " MB\" >&2; exit 1; fi; "
            + "sleep 0.05; done; echo $pid";
        return Integer.parseInt(run(pmig, "lab", "exec", "node-a", "--", "sh", "-c", script).strip());
    }

    /** Runs {@code pmig migrate PID --to node-b --json OPTIONS} in node-a; returns the daemon's report. */
    public JsonNode migrate(int pid, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(pmig, "lab", "exec", "node-a", "--", pmig, "migrate", Integer.toString(pid),
            "--to", "node-b", "--json"));
        command.addAll(Arrays.asList(options));
        JsonNode report = MAPPER.readTree(run(command.toArray(String[]::new)));
        if (report.path("restoredPid").asInt() != pid) {
            throw new IllegalStateException("unexpected report: " + report);
        }
        return report;
    }

    /** Kills the migrated service on node-b and waits until it is gone. */
    public void killOnNodeB(int pid) throws Exception {
        run(pmig, "lab", "exec", "node-b", "--", "sh", "-c", "kill -9 " + pid + "; while [ -e /proc/" + pid + " ]; do sleep 0.01; done");
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
