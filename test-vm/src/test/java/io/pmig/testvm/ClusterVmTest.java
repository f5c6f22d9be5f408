package io.pmig.testvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * pmig between real hosts, as far as one machine has them: {@code test-vm/vm cluster up 2 --module} boots two guests
 * with root filesystems of their own on Debian 12's 6.1 kernel and a newer one, pmig.ko built for each and loaded, a
 * pmigd in each, on a private segment whose network namespace is the client; {@code cluster demo --skew --apache} moves
 * stream-server from one to the other while the client checks every byte, reads the moved process's monotonic clock
 * before and after, checks that both daemons held the VIP's packets with the module, moves Apache prefork whole under
 * ab, and sets a guest's clock 30 s ahead for a move that must be refused. It runs with {@code PMIG_CLUSTER=1} (4-10
 * minutes: the suite keeps within its 30 without it). {@code PMIG_CLUSTER_FULL=1} moves the stream there and back, and
 * then boots a second cluster without pmig.ko for the same demo there and back (its daemons must hold with NFLOG);
 * test-vm/README.md has the timings. Each test checks its part of every demo's report.
 */
class ClusterVmTest {
    private static final long UP_TIMEOUT_SECONDS = 900;
    private static final long DEMO_TIMEOUT_SECONDS = 1500;
    /** The realtime clocks of the guests agree to a few milliseconds (test-vm/node-init sets them from the host's). */
    private static final double CLOCK_MARGIN_MILLIS = 50;
    private static final String CLUSTER = "pmig-clustertest";
    private static final boolean FULL = "1".equals(System.getenv("PMIG_CLUSTER_FULL"));
    private static final boolean ON = FULL || "1".equals(System.getenv("PMIG_CLUSTER"));
    private static Path tmp;
    private static final List<Demo> demos = new ArrayList<>();

    /** One cluster's demo: whether its guests had pmig.ko, the arguments, the report and exit status. */
    private record Demo(boolean module, List<String> args, String output, int status) {
        String verdict() {
            return output.strip().lines().reduce((a, b) -> b).orElse("");
        }

        @Override
        public String toString() {
            return "cluster " + String.join(" ", args) + (module ? " with pmig.ko" : " without pmig.ko") + ":\n" + output;
        }
    }

    @BeforeAll
    static void runTheDemoInClusters(@TempDir Path dir) throws Exception {
        assumeTrue(ON, "the cluster runs with PMIG_CLUSTER=1 (or PMIG_CLUSTER_FULL=1): test-vm/README.md");
        assumeTrue("root".equals(System.getProperty("user.name")), "the cluster needs root (network namespace, taps)");
        tmp = dir;
        vm(List.of("down"), 120); // one left behind by a killed run
        List<String> withModule = new ArrayList<>(List.of("demo", "--skew", "--apache"));
        if (FULL) {
            withModule.add("--there-and-back");
        }
        demoInACluster(true, withModule);
        if (FULL) {
            demoInACluster(false, List.of("demo", "--apache", "--there-and-back"));
        }
    }

    private static void demoInACluster(boolean module, List<String> args) throws Exception {
        try {
            Result started = vm(module ? List.of("up", "2", "--module") : List.of("up", "2"), UP_TIMEOUT_SECONDS);
            System.out.println("test-vm/vm cluster up 2" + (module ? " --module" : "") + ":\n" + started.output);
            assertEquals(0, started.status, "cluster up failed:\n" + started.output);
            assertEquals(2, started.output.lines().filter(l -> l.endsWith(module ? "pmig.ko loaded" : "no pmig.ko")).count(),
                "each guest's line says whether pmig.ko is loaded:\n" + started.output);
            Result ran = vm(args, DEMO_TIMEOUT_SECONDS);
            Demo demo = new Demo(module, args, ran.output, ran.status);
            demos.add(demo);
            System.out.println(demo);
        } finally {
            down();
        }
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
        assertEquals(FULL ? 2 : 1, demos.size());
        for (Demo demo : demos) {
            String last = demo.verdict();
            assertTrue(last.startsWith("PASS: "), "the demo's verdict:\n" + demo);
            assertEquals(0, demo.status, demo.toString());
            Matcher kernels = Pattern.compile("node-a on (\\S+), node-b on (\\S+), (pmig.ko loaded in both|without pmig.ko)").matcher(last);
            assertTrue(kernels.find(), "the verdict names both kernels and the module: " + last);
            assertNotEquals(kernels.group(1), kernels.group(2), "the guests run different kernels");
            assertEquals(demo.module ? "pmig.ko loaded in both" : "without pmig.ko", kernels.group(3), last);
            assertTrue(last.contains("the client checked every byte: PASS connections=1"), last);
        }
    }

    /** Each move's daemons, source and destination, held the VIP's packets in the kernel exactly when pmig.ko was loaded. */
    @Test
    void bothDaemonsHeldTheVipWithPmigKoWhenItWasLoaded() {
        assertTrue(demos.stream().anyMatch(Demo::module), "the default run has pmig.ko loaded");
        for (Demo demo : demos) {
            String method = demo.module ? "pmig.ko" : "nflog";
            long moves = demo.output.lines().filter(l -> l.startsWith("[move] ")).count();
            long held = demo.output.lines().filter(l -> l.equals("    packets held by: node-a " + method + "; node-b " + method + "; ")
                || l.equals("    packets held by: node-b " + method + "; node-a " + method + "; ")).count();
            assertTrue(moves >= (demo.args.contains("--there-and-back") ? 3 : 2), demo.toString());
            assertEquals(moves, held, "every move's daemons held with " + method + ":\n" + demo);
        }
    }

    @Test
    void apachePreforkMovesWholeUnderLoadWithNoRequestFailed() {
        for (Demo demo : demos) {
            Matcher after = Pattern.compile("apache2 after the move: (\\d+) processes on node-b \\([\\d ]+\\), 0 on node-a").matcher(demo.output);
            assertTrue(after.find(), "every process of apache2 on node-b, none on node-a:\n" + demo);
            Matcher before = Pattern.compile("service apache \\((\\d+) processes of apache2 on node-a").matcher(demo.output);
            assertTrue(before.find(), demo.toString());
            assertTrue(Integer.parseInt(before.group(1)) >= 5, "a parent and its workers: " + before.group());
            assertTrue(Integer.parseInt(after.group(1)) >= Integer.parseInt(before.group(1)), after.group() + " after " + before.group());
            Matcher ab = Pattern.compile("ab: complete requests (\\d+), failed requests 0$", Pattern.MULTILINE).matcher(demo.output);
            assertTrue(ab.find() && Long.parseLong(ab.group(1)) > 0, "ab saw every request answered:\n" + demo);
            assertTrue(demo.verdict().contains("moved node-a -> node-b under ab: " + ab.group(1) + " requests, 0 failed"), demo.verdict());
        }
    }

    @Test
    void theGuestsHaveFilesystemsOfTheirOwn() {
        for (Demo demo : demos) {
            Matcher files = Pattern.compile("stream-server: (device \\d+ inode \\d+) on node-a, (device \\d+ inode \\d+) on node-b")
                .matcher(demo.output);
            assertTrue(files.find(), demo.toString());
            assertNotEquals(files.group(1), files.group(2), "stream-server is one file on both guests");
        }
    }

    @Test
    void theMovedProcesssMonotonicClockNeitherGoesBackNorJumpsBeyondTheDowntime() {
        for (Demo demo : demos) {
            Matcher clock = Pattern.compile("clock of the moved process: monotonic \\+(-?[\\d.]+) ms while realtime \\+(-?[\\d.]+) ms"
                + " \\(the process missed (-?[\\d.]+) ms of it; downtime ([\\d.]+) ms\\)").matcher(demo.output);
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
            assertEquals(demo.args.contains("--there-and-back") ? 2 : 1, moves, "each move's clock in the report:\n" + demo);
            // the check means something only if the guests' own monotonic clocks are far apart
            Matcher own = Pattern.compile("guests' own clocks: node-a monotonic_ns=(\\d+) realtime_ns=(\\d+), node-b monotonic_ns=(\\d+)"
                + " realtime_ns=(\\d+)").matcher(demo.output);
            assertTrue(own.find(), demo.toString());
            double bootsApartMillis = Math.abs((Long.parseLong(own.group(2)) - Long.parseLong(own.group(1)))
                - (Long.parseLong(own.group(4)) - Long.parseLong(own.group(3)))) / 1e6;
            assertTrue(bootsApartMillis > 1000, "the guests booted only " + bootsApartMillis + " ms apart");
        }
    }

    @Test
    void aSkewedClockIsRefusedByName() {
        List<Demo> skewed = demos.stream().filter(d -> d.args.contains("--skew")).toList();
        assertFalse(skewed.isEmpty(), "the default run checks the skew");
        for (Demo demo : skewed) {
            Matcher refusal = Pattern.compile("exit 3: pmig: (pmigd: )?the clocks of node-\\w and node-\\w disagree: node-\\w's clock read \\S+"
                + " when node-\\w's read \\S+: (29|30|31)\\.\\d+ s (ahead|behind)").matcher(demo.output);
            assertTrue(refusal.find(), "no refusal naming both clocks:\n" + demo);
        }
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
