package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.cli.NativeProgram;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs bin/pmig's main class in JVMs of their own on the test lab pmig-labtest, for the lab's tests.
 * PMIG_LABTEST_NAME names another lab, so that two checkouts can run their lab tests at once.
 */
final class LabTestSupport {
    static final String LAB = System.getenv().getOrDefault("PMIG_LABTEST_NAME", "pmig-labtest");
    static final ObjectMapper MAPPER = new ObjectMapper();
    /** A bound for a hang, not a speed: a staged move of Apache's 160 processes took over 60 s on a loaded machine. */
    static final long TIMEOUT_SECONDS = 180;

    private LabTestSupport() {
    }

    /** One run of pmig: its exit code and output. */
    record Run(int exitCode, String out, String err) {
        JsonNode json() {
            try {
                return MAPPER.readTree(out);
            } catch (IOException e) {
                throw new AssertionError("not one JSON object: " + out + " (stderr: " + err + ")", e);
            }
        }

        @Override
        public String toString() {
            return "exit " + exitCode + ", stdout: " + out + ", stderr: " + err;
        }
    }

    static Run pmig(String... args) {
        return run(Map.of(), null, args);
    }

    static Run pmigWithInput(String input, String... args) {
        return run(Map.of(), input, args);
    }

    /**
     * Skips the test unless root; removes what an earlier run left of the test lab, then builds it anew with its daemons,
     * as {@code pmig lab down} and {@code pmig lab up} do, but in this JVM: two JVM starts less for every test
     * (LabCommandTest tests the commands themselves).
     */
    static void freshLab() {
        Assumptions.assumeTrue(LabCommandTest.isRoot(), "the lab needs root");
        Lab lab = lab();
        lab.down();
        lab.up(2, Subnet.parse("10.77.0.0/24"), false, NativeProgram.path("pmig-lab-init"));
    }

    /** Removes the test lab and everything in it, as {@code pmig lab down} does, in this JVM. */
    static void removeLab() {
        lab().down();
    }

    private static Lab lab() {
        return new Lab(new LabLayout(LAB), new LabShell());
    }

    static Run down() {
        return pmig("lab", "down");
    }

    /** Runs io.pmig.cli.Pmig in a JVM of its own, on the lab {@link #LAB}. */
    static Run run(Map<String, String> environment, String input, String... args) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
                "-cp", System.getProperty("java.class.path"), "io.pmig.cli.Pmig"));
        command.addAll(List.of(args));
        return runProcess(command, environment, input, "pmig " + String.join(" ", args));
    }

    /**
     * Runs {@code command} in the namespaces of the lab's host {@code host} with the command line {@code pmig lab exec}
     * uses, started from this JVM: its exit code and output are the command's, as through pmig lab exec, without the
     * start of a JVM for pmig (LabCommandTest tests pmig lab exec itself).
     */
    static Run inHost(String host, List<String> command) {
        return runProcess(lab().execCommand(host, command), Map.of(), null, "pmig lab exec " + host + " -- " + String.join(" ", command));
    }

    private static Run runProcess(List<String> command, Map<String, String> environment, String input, String what) {
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().put(LabLayout.NAME_VARIABLE, LAB);
        builder.environment().putAll(environment);
        try {
            Process process = builder.start();
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> readAll(process.getInputStream()));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
            try (var stdin = process.getOutputStream()) {
                if (input != null) {
                    stdin.write(input.getBytes(StandardCharsets.UTF_8));
                }
            }
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail(what + " did not finish in " + TIMEOUT_SECONDS + " s");
            }
            return new Run(process.exitValue(), out.get(TIMEOUT_SECONDS, TimeUnit.SECONDS), err.get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        } catch (Exception e) {
            throw new AssertionError("cannot run " + what, e);
        }
    }

    /** Runs a shell command on the host (to look, never to change anything). */
    static String sh(String script) {
        LabShell.Result result = new LabShell().attempt("sh", "-c", script);
        assertEquals(0, result.exitCode(), result.failure());
        return result.out();
    }

    static String readAll(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String exec(String node, String... command) {
        Run run = inHost(node, List.of(command));
        assertEquals(0, run.exitCode(), String.join(" ", command) + " on " + node + ": " + run);
        return run.out();
    }

    /** A TcpExt counter of a /proc/net/netstat text (a line of names, then one of values). */
    static long tcpCounter(String netstat, String name) {
        String[] lines = netstat.split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith("TcpExt:") && lines[i + 1].startsWith("TcpExt:")) {
                List<String> names = List.of(lines[i].trim().split("\\s+"));
                return Long.parseLong(lines[i + 1].trim().split("\\s+")[names.indexOf(name)]);
            }
        }
        throw new AssertionError("no TcpExt counters in " + netstat);
    }

    /** pmig itself, run inside a node's namespaces, as an operator on that node would. */
    static Run pmigIn(String node, String... pmigArgs) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-XX:-UsePerfData", "-cp", System.getProperty("java.class.path"), "io.pmig.cli.Pmig"));
        command.addAll(List.of(pmigArgs));
        return inHost(node, command);
    }
}
