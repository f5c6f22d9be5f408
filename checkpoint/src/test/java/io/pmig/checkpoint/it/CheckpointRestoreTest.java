package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.StepTimes;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Checkpoint and restore of each stateful test program (mem, threads, signals, timers, procstate,
 * fds) in the ways an operator uses them. Every restored instance must come back with its pid, look
 * the same from /proc as the original did, and pass its own checks.
 */
class CheckpointRestoreTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @ParameterizedTest(name = "{0}: checkpoint (kill), restore, PASS")
    @MethodSource("io.pmig.checkpoint.it.ItSupport#statefulPrograms")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checkpointThenRestore(String name) throws Exception {
        TestProgram p = startReady(name);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        Path dir = imageDir("1");
        CheckpointReport cr = checkpoint(p, dir, false);
        // where the whole checkpoint's time went: each step once, in order, the frozen part one of them
        assertEquals(List.of("pre-flight", "frozen", "image complete", "authentication", "kill"),
            cr.totalSteps().steps().stream().map(StepTimes.Step::name).toList());
        assertEquals(cr.frozenNanos(), cr.totalSteps().nanos("frozen"), "the frozen step is the frozen time");
        assertEquals(cr.totalNanos(), cr.totalSteps().totalNanos(), "the total is the steps' sum");

        RestoreReport rr = restore(p, dir);
        assertEquals(cr.threads(), rr.threads(), "restored thread count");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "restored " + name);
        if (name.equals("mem")) {
            assertTrue(cr.pageBytes() >= 60L << 20, "mem wrote ~64 MB of pages, report says " + cr.pageBytes());
            assertTrue(rr.pageBytes() >= 60L << 20, "mem restore: report says " + rr.pageBytes() + " page bytes");
        }
        goExpectPassAndExit(p);
    }

    /**
     * A SIGEV_THREAD POSIX timer targets glibc's helper thread: the restore creates it once the threads exist
     * (timer_create refused a thread not there yet with EINVAL, after the original was killed). Its threads come
     * and go with each expiry, so its /proc view is not compared.
     */
    @org.junit.jupiter.api.Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aTimerThatStartsAThreadPerExpiryGoesOnFiring() throws Exception {
        TestProgram p = startReady("timer_thread");
        Path dir = imageDir("1");
        checkpoint(p, dir, false);
        restore(p, dir);
        goExpectPassAndExit(p);
    }

    @ParameterizedTest(name = "{0}: checkpoint --leave-running, original PASSes")
    @MethodSource("io.pmig.checkpoint.it.ItSupport#statefulPrograms")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checkpointLeaveRunning(String name) throws Exception {
        TestProgram p = startReady(name);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        checkpoint(p, imageDir("1"), true);
        assertTrue(p.originalProcess().isAlive(), "original died after checkpoint --leave-running");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "original after checkpoint --leave-running (traces left?)");
        goExpectPassAndExit(p);
    }

    @ParameterizedTest(name = "{0}: restore twice from one image")
    @MethodSource("io.pmig.checkpoint.it.ItSupport#statefulPrograms")
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void restoreTwiceFromOneImage(String name) throws Exception {
        TestProgram p = startReady(name);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        Path dir = imageDir("1");
        checkpoint(p, dir, false);

        restore(p, dir);
        goExpectPassAndExit(p);
        p.awaitPidFree(PID_FREE_TIMEOUT);

        p.resetForRestore();
        restore(p, dir);
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "second restore of " + name);
        goExpectPassAndExit(p);
    }

    @ParameterizedTest(name = "{0}: restore after the original finished and exited")
    @MethodSource("io.pmig.checkpoint.it.ItSupport#statefulPrograms")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void restoreAfterOriginalIsGone(String name) throws Exception {
        TestProgram p = startReady(name);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        Path dir = imageDir("1");
        checkpoint(p, dir, true);
        goExpectPassAndExit(p); // the original runs to its end
        p.awaitPidFree(PID_FREE_TIMEOUT);

        p.resetForRestore();
        restore(p, dir);
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "restore of " + name + " after the original exited");
        goExpectPassAndExit(p);
    }

    @ParameterizedTest(name = "{0}: leave-running checkpoint, then checkpoint and restore twice in a chain")
    @MethodSource("io.pmig.checkpoint.it.ItSupport#statefulPrograms")
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checkpointRestoreChain(String name) throws Exception {
        // a service moved A -> B -> C: each checkpoint must leave nothing that breaks the next one
        TestProgram p = startReady(name);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        checkpoint(p, imageDir("1"), true);
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "original after checkpoint --leave-running");

        Path second = imageDir("2");
        checkpoint(p, second, false);
        restore(p, second);
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "first restore of " + name);

        Path third = imageDir("3");
        checkpoint(p, third, false); // checkpoint of a restored process
        restore(p, third);
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "restore of a restored " + name);
        goExpectPassAndExit(p);
    }

    @ParameterizedTest(name = "{0}: restore refused while the pid is taken")
    @MethodSource("io.pmig.checkpoint.it.ItSupport#statefulPrograms")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void restoreRefusedWhilePidTaken(String name) throws Exception {
        TestProgram p = startReady(name);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        Path dir = imageDir("1");
        checkpoint(p, dir, true);

        RefusedException e = assertThrows(RefusedException.class,
                () -> new RestoreEngine().restore(dir, new RestoreOptions(false)),
                "restore while pid " + p.pid() + " runs");
        assertTrue(e.getMessage() != null
                        && Pattern.compile("\\b" + p.pid() + "\\b").matcher(e.getMessage()).find(),
                "refusal does not name pid " + p.pid() + ": " + e.getMessage());
        // the original was not touched by the refused restore
        assertTrue(p.originalProcess().isAlive(), "original died");
        assertRunningUntraced(p.pid(), "after the refused restore");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "original after a refused restore");
        goExpectPassAndExit(p);
    }
}
