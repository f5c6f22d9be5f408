package io.pmig.testvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pmig between real hosts, as far as one machine has them: {@code test-vm/vm cluster up 2} boots two guests with root
 * filesystems of their own on Debian 12's 6.1 kernel and a newer one, a pmigd in each, on a private segment whose
 * network namespace is the client; {@code cluster demo --skew} moves stream-server from one to the other while the
 * client checks every byte, reads the moved process's monotonic clock before and after, and sets a guest's clock 30 s
 * ahead for a move that must be refused. By default one move (node-a to node-b); {@code PMIG_CLUSTER_FULL=1} moves it
 * there and back (test-vm/README.md has both timings). Each test checks its part of the demo's report.
 */
class ClusterVmTest {
    private static final long UP_TIMEOUT_SECONDS = 900;
    private static final long DEMO_TIMEOUT_SECONDS = 1500;
    /** The realtime clocks of the guests agree to a few milliseconds (test-vm/node-init sets them from the host's). */
    private static final double CLOCK_MARGIN_MILLIS = 50;
    private static final String CLUSTER = "pmig-clustertest";
    private static Path tmp;
    private static String up;
    private static String demo;
    private static int demoStatus;

    @BeforeAll
    static void runTheDemoInACluster(@TempDir Path dir) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the cluster needs root (network namespace, taps)");
        tmp = dir;
        vm(List.of("down"), 120); // one left behind by a killed run
        Result started = vm(List.of("up", "2"), UP_TIMEOUT_SECONDS);
        up = started.output;
        System.out.println("test-vm/vm cluster up 2:\n" + up);
        assertEquals(0, started.status, "cluster up failed:\n" + up);
        List<String> args = new ArrayList<>(List.of("demo", "--skew"));
        if ("1".equals(System.getenv("PMIG_CLUSTER_FULL"))) {
            args.add("--there-and-back");
        }
        Result ran = vm(args, DEMO_TIMEOUT_SECONDS);
        demo = ran.output;
        demoStatus = ran.status;
        System.out.println("test-vm/vm cluster " + String.join(" ", args) + ":\n" + demo);
    }

    @AfterAll
    static void down() throws Exception {
        if (tmp != null) {
            Result down = vm(List.of("down"), 120);
            assertEquals(0, down.status, "cluster down failed:\n" + down.output);
        }
    }

    @Test
    void theStreamMovesBetweenTwoKernelsWithEveryByteChecked() {
        String last = demo.strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(last.startsWith("PASS: "), "the demo's verdict:\n" + demo);
        assertEquals(0, demoStatus, demo);
        Matcher kernels = Pattern.compile("node-a on (\\S+), node-b on (\\S+)").matcher(last);
        assertTrue(kernels.find(), "the verdict names both kernels: " + last);
        assertNotEquals(kernels.group(1), kernels.group(2), "the guests run different kernels");
        assertTrue(last.contains("the client checked every byte: PASS connections=1"), last);
    }

    @Test
    void theGuestsHaveFilesystemsOfTheirOwn() {
        Matcher files = Pattern.compile("stream-server: (device \\d+ inode \\d+) on node-a, (device \\d+ inode \\d+) on node-b").matcher(demo);
        assertTrue(files.find(), demo);
        assertNotEquals(files.group(1), files.group(2), "stream-server is one file on both guests");
    }

    @Test
    void theMovedProcesssMonotonicClockNeitherGoesBackNorJumpsBeyondTheDowntime() {
        Matcher clock = Pattern.compile("clock of the moved process: monotonic \\+(-?[\\d.]+) ms while realtime \\+(-?[\\d.]+) ms"
            + " \\(the process missed (-?[\\d.]+) ms of it; downtime ([\\d.]+) ms\\)").matcher(demo);
        int moves = 0;
        while (clock.find()) {
            double monotonic = Double.parseDouble(clock.group(1));
            double realtime = Double.parseDouble(clock.group(2));
            double downtime = Double.parseDouble(clock.group(4));
            assertTrue(monotonic >= 0, "the monotonic clock went back: " + clock.group());
            assertTrue(monotonic <= realtime + CLOCK_MARGIN_MILLIS, "the monotonic clock jumped ahead: " + clock.group());
            assertTrue(realtime - monotonic <= downtime + CLOCK_MARGIN_MILLIS, "the monotonic clock lost more than the downtime: "
                + clock.group());
            moves++;
        }
        assertTrue(moves >= 1, "no move's clock in the report:\n" + demo);
        // the check means something only if the guests' own monotonic clocks are far apart
        Matcher own = Pattern.compile("guests' own clocks: node-a monotonic_ns=(\\d+) realtime_ns=(\\d+), node-b monotonic_ns=(\\d+)"
            + " realtime_ns=(\\d+)").matcher(demo);
        assertTrue(own.find(), demo);
        double bootsApartMillis = Math.abs((Long.parseLong(own.group(2)) - Long.parseLong(own.group(1)))
            - (Long.parseLong(own.group(4)) - Long.parseLong(own.group(3)))) / 1e6;
        assertTrue(bootsApartMillis > 1000, "the guests booted only " + bootsApartMillis + " ms apart");
    }

    @Test
    void aSkewedClockIsRefusedByName() {
        Matcher refusal = Pattern.compile("exit 3: pmig: (pmigd: )?the clocks of node-\\w and node-\\w disagree: node-\\w's clock read \\S+"
            + " when node-\\w's read \\S+: (29|30|31)\\.\\d+ s (ahead|behind)").matcher(demo);
        assertTrue(refusal.find(), "no refusal naming both clocks:\n" + demo);
    }

    private record Result(int status, String output) {
    }

    private static Result vm(List<String> args, long timeoutSeconds) throws Exception {
        List<String> command = new ArrayList<>(List.of(System.getProperty("pmig.vm"), "cluster"));
        command.addAll(args);
        Path output = Files.createTempFile(tmp, "cluster", ".out");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
        builder.environment().put("PMIG_CLUSTER_NAME", CLUSTER);
        Process vm = builder.start();
        try {
            assertTrue(vm.waitFor(timeoutSeconds, TimeUnit.SECONDS), "test-vm/vm cluster " + args + " did not end in "
                + timeoutSeconds + " s:\n" + Files.readString(output, StandardCharsets.UTF_8));
            return new Result(vm.exitValue(), Files.readString(output, StandardCharsets.UTF_8));
        } finally {
            vm.destroy();
            vm.waitFor(10, TimeUnit.SECONDS);
            vm.destroyForcibly();
        }
    }
}
