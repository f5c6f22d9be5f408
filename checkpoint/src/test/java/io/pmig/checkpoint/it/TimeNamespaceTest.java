package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.PrecopyTarget;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.tree.TimeNamespaces;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The restored process's CLOCK_MONOTONIC and CLOCK_BOOTTIME go on from where they stood at the freeze, through the
 * vdso and the system call (the clocks test program checks them itself), however far the restoring host's clocks are
 * from the process's: the process lives in a time namespace of pmig's own, which a later move carries on.
 */
class TimeNamespaceTest extends ItSupport {
    private static final long MONOTONIC_AHEAD = 1000;
    private static final long BOOTTIME_AHEAD = 2000;
    private static final long ROUND_TRANSIT_MILLIS = 2000;

    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clocksFarAheadOfThisHostsGoOnAcrossTwoMoves() throws Exception {
        TestProgram p = startReadyWithClocksAhead("clocks", MONOTONIC_AHEAD, BOOTTIME_AHEAD);
        checkpoint(p, imageDir("1"), false);
        restore(p, imageDir("1"));
        assertCarriedOn(p.pid(), "first restore");
        checkpoint(p, imageDir("2"), false);
        restore(p, imageDir("2"));
        assertCarriedOn(p.pid(), "second restore");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clocksGoOnOnAHostWhoseClocksAreBehind() throws Exception {
        TestProgram p = startReady("clocks");
        assertPass(p, moveToAHostWhoseClocksAreBehind(p, false));
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void onTheHostsOwnClocksTheProcessWouldSeeThemGoBack() throws Exception {
        TestProgram p = startReady("clocks");
        String result = moveToAHostWhoseClocksAreBehind(p, true);
        assertTrue(result.startsWith("FAIL") && result.contains("CLOCK_MONOTONIC (vdso) went back")
            && result.contains("CLOCK_BOOTTIME (syscall) went back"), result + "; log:\n" + p.logTail());
    }

    /**
     * A pre-copy's copy is created from the first round's clocks; a first round that takes 2 s to arrive would set the
     * copy's clocks 2 s behind those of the freeze, were they not counted on from that round by the wall clock.
     */
    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aPrecopyWhoseFirstRoundArrivedLateStillGoesOn() throws Exception {
        TestProgram p = startReadyWithClocksAhead("clocks", MONOTONIC_AHEAD, BOOTTIME_AHEAD);
        ByteArrayOutputStream round1 = new ByteArrayOutputStream();
        ByteArrayOutputStream last = new ByteArrayOutputStream();
        try (PrecopySource session = new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults())) {
            session.sendRound(Channels.newChannel(round1));
            Thread.sleep(ROUND_TRANSIT_MILLIS);                // the round in flight
            try (PrecopyTarget target = new RestoreEngine().prepareInAdvance(
                    Channels.newChannel(new ByteArrayInputStream(round1.toByteArray())), "round 1", new RestoreOptions(true))) {
                FrozenCheckpoint frozen = session.finish(Channels.newChannel(last), CheckpointOptions.defaults());
                int copy;
                try (RestoredProcess restored = target.finish(Channels.newChannel(new ByteArrayInputStream(last.toByteArray())),
                        new RestoreOptions(true))) {
                    restored.resume();
                    copy = restored.pid();
                }
                commitAndExpectPassOfCopy(p, frozen, copy);
            }
        }
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aProcessSharingItsTimeNamespaceIsRefused() throws Exception {
        Process shell = new ProcessBuilder("unshare", "--time", "--monotonic", "100", "sh", "-c", "sleep 600 & wait")
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Optional<ProcessHandle> sleep = Optional.empty();
            for (int i = 0; i < 1000 && sleep.isEmpty(); i++) {
                sleep = shell.children().filter(c -> c.info().command().orElse("").endsWith("sleep")).findFirst();
                Thread.sleep(10);
            }
            int pid = (int) sleep.orElseThrow().pid();
            RefusedException e = assertThrows(RefusedException.class,
                () -> new CheckpointEngine().checkpoint(pid, Files.createTempDirectory("pmig-timens"), new CheckpointOptions(true)));
            assertTrue(e.getMessage().contains("shares its time namespace") && e.getMessage().contains("(sh)"), e.getMessage());
            assertEquals("S", TestProgram.procState(pid).orElse("gone").substring(0, 1), "the refused process runs on");
        } finally {
            shell.descendants().forEach(ProcessHandle::destroyForcibly);
            shell.destroyForcibly();
        }
    }

    /**
     * Checkpoints {@code p} and restores it as on a host whose clocks read less (1000 s, or half of this host's monotonic
     * clock on one booted less than 2000 s ago: a clock cannot read below 0), with pmig's time namespace or ({@code hostClocks}) on
     * that host's clocks; returns the program's result.
     */
    private String moveToAHostWhoseClocksAreBehind(TestProgram p, boolean hostClocks) throws Exception {
        Path image = imageDir("1");
        checkpoint(p, image, false);
        long monotonicSeconds = System.nanoTime() / 1_000_000_000L;     // CLOCK_MONOTONIC on Linux
        assertTrue(monotonicSeconds >= 2, "this host's monotonic clock reads " + monotonicSeconds + " s: no room to go back");
        long behind = Math.min(1000, monotonicSeconds / 2);
        System.setProperty(TimeNamespaces.DEBUG_DESTINATION_SKEW, Long.toString(-behind));
        System.setProperty(TimeNamespaces.DEBUG_HOST_CLOCKS, Boolean.toString(hostClocks));
        try {
            restore(p, image);
        } finally {
            System.clearProperty(TimeNamespaces.DEBUG_DESTINATION_SKEW);
            System.clearProperty(TimeNamespaces.DEBUG_HOST_CLOCKS);
        }
        return p.goAndAwaitResult();
    }

    /** {@code pid} lives in a time namespace of its own whose offsets carry the original's (less the downtime). */
    private static void assertCarriedOn(int pid, String when) throws Exception {
        assertNotEquals(timeNamespace((int) ProcessHandle.current().pid()), timeNamespace(pid), when + ": a time namespace of its own");
        long[] offsets = offsetSeconds(pid);
        assertTrue(offsets[0] > MONOTONIC_AHEAD - 60 && offsets[0] <= MONOTONIC_AHEAD, when + ": monotonic offset " + offsets[0] + " s");
        assertTrue(offsets[1] > BOOTTIME_AHEAD - 60 && offsets[1] <= BOOTTIME_AHEAD, when + ": boottime offset " + offsets[1] + " s");
    }

    private static String timeNamespace(int pid) throws Exception {
        return Files.readSymbolicLink(Path.of("/proc", Integer.toString(pid), "ns", "time")).toString();
    }

    /** The monotonic and boottime offsets of {@code pid}'s time namespace, in whole seconds (rounded down). */
    private static long[] offsetSeconds(int pid) throws Exception {
        long[] seconds = new long[2];
        for (String line : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "timens_offsets"))) {
            String[] w = line.trim().split("\\s+");
            seconds[w[0].equals("monotonic") ? 0 : 1] = Long.parseLong(w[1]);
        }
        return seconds;
    }
}
