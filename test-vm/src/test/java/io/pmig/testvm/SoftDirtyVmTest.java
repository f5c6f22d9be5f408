package io.pmig.testvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The soft-dirty write tracker for real: a test-vm guest boots Debian 12's own 6.1 kernel (which has
 * CONFIG_MEM_SOFT_DIRTY, unlike the development kernel) and runs io.pmig.checkpoint.it.SoftDirtyGuest
 * there, which calls the checkpoint module's dirty-tracking and pre-copy tests with the tracker the
 * engine picks on that kernel. One guest for all of them (a boot and a JVM start under TCG cost
 * seconds); each test here checks its part of the guest's report.
 */
class SoftDirtyVmTest {
    private static final long GUEST_TIMEOUT_SECONDS = 480;
    private static String report;
    private static int guestStatus;

    @BeforeAll
    static void runTheChecksInAGuest(@TempDir Path tmp) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the test VM needs root (9p shares of /usr and /etc)");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(System.getProperty("pmig.vm"), "run",
            "--timeout", Long.toString(GUEST_TIMEOUT_SECONDS),
            "--share", System.getProperty("pmig.checkout"),
            "--share", System.getProperty("pmig.mavenRepository"),
            "--",
            // C1 only and the serial collector: JIT and GC threads compete for the two emulated CPUs
            java, "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-cp", System.getProperty("java.class.path"),
            "-Dpmig.testPrograms=" + System.getProperty("pmig.testPrograms"),
            "-Dpmig.restorer=" + System.getProperty("pmig.restorer"),
            "io.pmig.checkpoint.it.SoftDirtyGuest"));
        Path output = tmp.resolve("guest-output");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
        builder.environment().put("TMPDIR", tmp.toString()); // the harness's run directory goes with the test's
        Process vm = builder.start();
        try {
            // the harness kills the guest at its own timeout; this one is for a harness that hangs
            assertTrue(vm.waitFor(GUEST_TIMEOUT_SECONDS + 60, TimeUnit.SECONDS), "test-vm/vm run did not end");
            guestStatus = vm.exitValue();
        } finally {
            vm.destroy(); // the harness kills its qemu as it ends
            vm.waitFor(10, TimeUnit.SECONDS);
            vm.destroyForcibly();
        }
        report = Files.readString(output, StandardCharsets.UTF_8);
        System.out.println("guest on Debian's 6.1 kernel:\n" + report);
    }

    @Test
    void theGuestRanEveryCheck() {
        assertEquals(0, guestStatus, "exit status of the guest's checks; its report:\n" + report);
    }

    @Test
    void softDirtyIsTheMethodTheGuestKernelOffers() {
        assertPassed("softDirtyIsTheMethodOffered");
    }

    @Test
    void theTrackerReportsExactlyThePagesWritten() {
        assertPassed("reportsExactlyThePagesWrittenAndLeavesNoTrace");
    }

    @Test
    void theTrackerFollowsMappingChurn() {
        assertPassed("followsMappingsCreatedAndReplacedMeanwhile");
        assertPassed("followsMappingsMovedUnmappedAndGrown");
    }

    @Test
    void aStagedCheckpointAndRestoreArrivesExactly() {
        assertPassed("anIdleProcessNeedsOneRoundAndALastPartOfAlmostNothing");
        assertPassed("mappingChurnDuringThePrecopyIsFollowed");
        assertPassed("anAbortedLastPartLeavesTheSourceRunningWithoutTracking");
    }

    private static void assertPassed(String check) {
        assertTrue(report.lines().anyMatch(l -> l.startsWith("PASS " + check + " ")), check + " did not pass in the guest:\n" + report);
    }
}
