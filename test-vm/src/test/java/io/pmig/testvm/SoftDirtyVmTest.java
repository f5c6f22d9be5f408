package io.pmig.testvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;

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
        GuestRun run = GuestRun.of(tmp, GUEST_TIMEOUT_SECONDS, List.of(
            // C1 only and the serial collector: JIT and GC threads compete for the two emulated CPUs
            java, "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-cp", System.getProperty("java.class.path"),
            "-Dpmig.testPrograms=" + System.getProperty("pmig.testPrograms"),
            "-Dpmig.restorer=" + System.getProperty("pmig.restorer"),
            "io.pmig.checkpoint.it.SoftDirtyGuest"));
        guestStatus = run.status();
        report = run.output();
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
