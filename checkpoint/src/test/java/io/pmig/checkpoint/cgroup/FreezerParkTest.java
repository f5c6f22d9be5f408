package io.pmig.checkpoint.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link FreezerPark}: a process parked frozen stays in its park until it leaves, and runs again where it came from, its
 * cgroup seen through the park ({@link FreezerPark#originOf});
 * {@link FreezerPark#keptQuick()} and {@link FreezerPark#keptQuickSoon()} leave the engine in the cgroup it is in and
 * stop their keeper when closed.
 */
class FreezerParkTest {
    private static final String KEEPER = "pmig-park-kept-quick";

    @Test
    @Timeout(60)
    void aParkedProcessStaysFrozenThereAndLeavesBackToWhereItWas() throws Exception {
        assumeTrue(ServiceCgroup.unifiedRoot().isPresent(), "no v2 hierarchy here");
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        int pid = (int) sleeper.pid();
        try {
            String origin = cgroupOf(pid);
            Optional<FreezerPark> park = FreezerPark.enter(pid, true);
            assumeTrue(park.isPresent(), "no v2 freezer here");
            assertTrue(cgroupOf(pid).contains("/park-" + pid + "@"), "moved into its park: " + cgroupOf(pid));
            assertEquals(Optional.of(cgroupOf(pid)), FreezerPark.of(pid).map(p -> cgroupOf(pid)), "found by a restarted daemon");
            assertEquals(origin.substring(3), FreezerPark.originOf(cgroupOf(pid).substring(3)),
                "what its cgroup says of a parked process (its limits) is read where it came from");
            awaitState(pid, "S");   // frozen tasks sleep in the freezer's trap
            park.get().leave();
            assertEquals(origin, cgroupOf(pid), "back where it came from");
            assertTrue(FreezerPark.of(pid).isEmpty(), "its park is gone once left");
            sleeper.destroyForcibly();
            assertTrue(sleeper.waitFor(10, TimeUnit.SECONDS), "it runs again and can be killed");
        } finally {
            sleeper.destroyForcibly();
        }
    }

    @Test
    void onlyAParkIsSeenThrough() {
        assertEquals("/system.slice/web@2.service", FreezerPark.originOf("/pmig/park-812@%2Fsystem.slice%2Fweb%402.service"));
        assertEquals("/", FreezerPark.originOf("/pmig/park-812@%2F"));
        for (String notAPark : new String[] {"/", "/system.slice/web@2.service", "/pmig/web-812", "/pmig/park-812@%2Fa/child",
            "/other/park-812@%2Fa"}) {
            assertEquals(notAPark, FreezerPark.originOf(notAPark));
        }
    }

    @Test
    @Timeout(60)
    void keepingTheParkQuickLeavesTheEngineWhereItIsAndEndsWhenClosed() throws Exception {
        assumeTrue(ServiceCgroup.unifiedRoot().isPresent(), "no v2 hierarchy here");
        int self = (int) ProcessHandle.current().pid();
        String before = cgroupOf(self);
        try (FreezerPark.QuickEntry now = FreezerPark.keptQuick()) {
            assertTrue(keeperRuns(), "a keeper runs while open");
        }
        awaitKeeperGone();
        try (FreezerPark.QuickEntry soon = FreezerPark.keptQuickSoon()) {
            assertTrue(keeperRuns(), "a keeper runs while open");
            Thread.sleep(50);
            assertEquals(before, cgroupOf(self), "the engine is moved into the cgroup it is in, no other");
        }
        awaitKeeperGone();
        assertEquals(before, cgroupOf(self));
    }

    private static String cgroupOf(int pid) {
        try {
            return Files.readAllLines(Path.of("/proc/" + pid + "/cgroup")).stream().filter(l -> l.startsWith("0::")).findFirst()
                .orElseThrow();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static boolean keeperRuns() {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(KEEPER) && t.isAlive());
    }

    private static void awaitKeeperGone() throws InterruptedException {
        for (int i = 0; i < 500 && keeperRuns(); i++) {
            Thread.sleep(10);
        }
        assertTrue(!keeperRuns(), "the keeper ends once closed");
    }

    private static void awaitState(int pid, String state) throws Exception {
        String seen = "";
        for (int i = 0; i < 500; i++) {
            seen = Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("State:"))
                .findFirst().orElse("");
            if (seen.contains("\t" + state + " ")) {
                Path events = ServiceCgroup.unifiedRoot().orElseThrow().resolve(cgroupOf(pid).substring(4)).resolve("cgroup.events");
                if (Files.readString(events).contains("frozen 1")) {
                    return;
                }
            }
            Thread.sleep(10);
        }
        throw new AssertionError("process " + pid + " never frozen: " + seen);
    }
}
