package io.pmig.testvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pmig.ko for real: kernel-module/build builds it against the headers of the guests' kernel (Debian 12's
 * 6.1; the development kernel has no module support), one test-vm guest insmods it and runs the module's
 * own checks (kernel-module/test/pmigtest.c: refusals, the hold over the guest's loopback, the TCP state
 * against the getsockopts) and then io.pmig.testvm.it.PmigModuleGuest (the Java bindings vip-manager and
 * checkpoint use), and at the end unloads the module, which must go cleanly.
 */
class PmigModuleVmTest {
    private static final long GUEST_TIMEOUT_SECONDS = 240;
    private static String report;
    private static int guestStatus;

    @BeforeAll
    static void runTheChecksInAGuest(@TempDir Path tmp) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the test VM needs root (9p shares of /usr and /etc)");
        Process build = new ProcessBuilder(System.getProperty("pmig.moduleBuild")).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String module = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(build.waitFor(300, TimeUnit.SECONDS), "kernel-module/build did not end");
        assertEquals(0, build.exitValue(), "kernel-module/build failed");
        String checks = Path.of(module).resolveSibling("pmigtest").toString();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String guest = String.join(" && ", List.of(
            "insmod " + module,
            checks + " checks",
            java + " -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp " + System.getProperty("java.class.path")
                + " io.pmig.testvm.it.PmigModuleGuest",
            "rmmod pmig",
            "echo PASS unloadsCleanly"));
        GuestRun run = GuestRun.of(tmp, GUEST_TIMEOUT_SECONDS, List.of("bash", "-c",
            guest + "; status=$?; dmesg | grep -E 'pmig|BUG:|WARNING:|refcount' | grep -v taint; exit $status"));
        guestStatus = run.status();
        report = run.output();
        System.out.println("guest with pmig.ko:\n" + report);
    }

    @Test
    void theGuestRanEveryCheck() {
        assertEquals(0, guestStatus, "exit status of the guest's checks; its report:\n" + report);
    }

    @Test
    void theModuleRefusesCallersWithoutCapSysAdminAndBadArguments() {
        assertPassed("refusesUnprivilegedCallers");
        assertPassed("refusesBadArguments");
    }

    @Test
    void heldPacketsAreReleasedInOrderTakenOrDropped() {
        assertPassed("holdsAndReleasesInOrder");
        assertPassed("releaseWithoutEndKeepsHolding");
        assertPassed("takesAndDropsWithinLimits");
        assertPassed("closingTheDeviceEndsItsHolds");
        assertPassed("holdsNewConnectionsThenEverything");
        assertPassed("kernelHoldKeepsTakesAndReleasesInOrder");
    }

    @Test
    void theTcpStateOfAllSocketsInOneCallIsWhatTheGetsockoptsReport() {
        assertPassed("tcpStateMatchesTheGetsockopts");
        assertPassed("tcpStateOfAllConnectionsInOneCall");
    }

    @Test
    void theModuleUnloadsCleanlyAndTheKernelLogsNoBug() {
        assertPassed("unloadsCleanly");
        assertTrue(report.lines().noneMatch(l -> l.contains("BUG") || l.contains("WARNING") || l.contains("refcount")),
            "the kernel logged a problem:\n" + report);
    }

    private static void assertPassed(String check) {
        assertTrue(report.lines().anyMatch(l -> l.equals("PASS " + check)), check + " did not pass in the guest:\n" + report);
    }
}
