package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.dirty.DirtyTracking;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.postcopy.PageServer;
import io.pmig.checkpoint.postcopy.PostcopyReport;
import io.pmig.checkpoint.precopy.WriteForecast;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Post-copy through pipes between threads of this JVM: precopy_writer writes flat out, the rounds stop shrinking, and
 * the last part leaves its hot pages at the source; the copy resumes without them, fetches each on first touch and
 * receives the rest pushed in address order from the frozen original, which is killed once every page is in place.
 * The copy then checks every page it keeps itself. A source lost mid-post-copy must leave no copy running (its missing
 * pages can no longer come) and the original must not run again either: the copy ran.
 */
class PostcopyTest extends ItSupport {
    @BeforeEach
    void rootAndTracking() {
        assumeRoot();
        assumeTrue(DirtyTracking.available() != DirtyTracking.Method.NONE, "this kernel cannot track written pages");
    }

    /** The writer runs on at full speed through the post-copy, faulting on its hot pages; then checks them all. */
    @Test
    @Timeout(180)
    void aHotWriterRunsOnDuringPostcopyAndEveryPageArrives() throws Exception {
        TestProgram p = writer(128, false);
        Moved moved = migrate(p, false);
        PostcopyReport source = moved.source;
        assertTrue(source.pagesLeft() >= 64, "a flat-out writer leaves its hot pages behind: " + source);
        assertEquals(source.pagesLeft(), source.pagesOnFault() + source.pagesPushed(), "every page left behind was sent once: " + source);
        System.out.println("post-copy of a flat-out writer: source " + source + ", destination " + moved.destination);
        assertEquals(source.pagesLeft(), moved.destination.pagesLeft(), "both ends agree on what was left behind");
        assertNoUserfaultfdLeft(moved.copy);
        p.go();
        assertPass(p, awaitResultOf(p.stateDir(), moved.copy));
        killQuietly(moved.copy);
    }

    /**
     * The copy checks every page while pages are still at the source, with the writer's churn (threads, malloc/free,
     * mremap of a region, MADV_DONTNEED, mprotect, sbrk) going on during the post-copy: moved, discarded and fresh pages.
     */
    @Test
    @Timeout(180)
    void theCopyChecksItselfDuringPostcopyWithMappingChurn() throws Exception {
        TestProgram p = writer(64, true);
        Moved moved = migrate(p, true);
        assertTrue(moved.source.pagesLeft() > 0, "pages were left behind: " + moved.source);
        assertPass(p, awaitResultOf(p.stateDir(), moved.copy));
        killQuietly(moved.copy);
    }

    /**
     * The source is lost after sending a part of the pages (its daemon died): the copy, which cannot get the rest, is
     * killed at once, whether it was still being built (its restore touches pages too) or already running, and the
     * failure says so; the original is killed too (the copy may have run: it must not run again).
     */
    @Test
    @Timeout(180)
    void aSourceLostMidPostcopyKillsTheCopyAndReportsIt() throws Exception {
        TestProgram p = writer(64, false);
        StagedDestination destination = StagedDestination.startWithPostcopy();
        FrozenCheckpoint frozen = precopyAndLastPart(p, destination);
        PageSet left = leftBehind;
        try {
            // how much is left depends on how fast the writer ran against the last round: half of it is never sent
            assertTrue(left.bytes() > 2 << 20, "enough pages left behind to be cut among them: " + left.bytes());
            // the source's page stream breaks after half of them, as a source daemon killed mid-post-copy would leave it
            FailedException e = assertThrows(FailedException.class, () -> new PageServer(frozen.pid(), left,
                destination.requestsFromDestination(), new CutAfter(destination.pagesToDestination(), left.bytes() / 2)).serve());
            assertTrue(e.getMessage().contains("not sent"), e.getMessage());
        } finally {
            frozen.commit(); // whatever happened, the copy may have run: the original never runs again
        }
        p.awaitPidFree(PID_FREE_TIMEOUT);
        Throwable failure = destination.awaitFailure();
        assertInstanceOf(FailedException.class, failure, "the destination reports the lost post-copy");
        assertTrue(failure.getMessage().contains("link to the source was lost") && failure.getMessage().contains("copy was killed"),
            failure.getMessage());
        awaitGone(destination.copyRoot(), "the copy whose pages were lost");
        assertFalse(Files.exists(p.stateDir().resolve("result")), "neither the copy nor the original got to check itself");
    }

    /** The copy's processes, and what each end of the post-copy reported. */
    private record Moved(int copy, PostcopyReport source, PostcopyReport destination) {
    }

    /** The pages the last part of {@link #precopyAndLastPart} left behind. */
    private PageSet leftBehind;

    /**
     * Moves p staged with post-copy: rounds until they stop shrinking, a last part leaving the hot pages behind, their
     * post-copy, then the original killed. {@code goAtResume}: the copy is told to check itself before the post-copy.
     */
    private Moved migrate(TestProgram p, boolean goAtResume) throws Exception {
        Map<Integer, String> fdsBefore = fds(p.pid());
        StagedDestination destination = StagedDestination.startWithPostcopy();
        FrozenCheckpoint frozen = precopyAndLastPart(p, destination);
        PostcopyReport served;
        try {
            if (goAtResume) {
                p.go(); // the frozen original cannot see it; the copy checks itself as soon as it runs
            }
            try {
                served = new PageServer(frozen.pid(), leftBehind, destination.requestsFromDestination(), destination.pagesToDestination())
                    .serve();
            } catch (FailedException e) {
                throw destination.withDestinationFailure(e);
            }
        } finally {
            frozen.commit();
        }
        p.awaitPidFree(PID_FREE_TIMEOUT);
        int copy = destination.awaitCopy().get(0);
        if (!goAtResume) {
            assertRunningUntraced(copy, "after the post-copy");
            // the copy held its own reference to the userfaultfd through the post-copy: gone again
            assertEquals(fdsBefore.keySet(), fds(copy).keySet(), "the copy's descriptors after the post-copy");
        }
        return new Moved(copy, served, destination.postcopy());
    }

    /** Rounds until they stop shrinking (no data filter: it would hold the hot pages back), then a post-copy last part. */
    private FrozenCheckpoint precopyAndLastPart(TestProgram p, StagedDestination destination) throws Exception {
        PrecopyOptions options = new PrecopyOptions(16, 6, WriteForecast.Model.OFF);
        try (PrecopySource session = new CheckpointEngine().precopy(p.pid(), options)) {
            session.sendRound(destination.sink());
            while (!session.shouldStop()) {
                destination.roundFollows();
                session.sendRound(destination.sink());
            }
            // what the writer writes from the last round on is what the post-copy moves: however starved of CPU the machine
            // leaves it, it writes for a while (a writer given no CPU left 0 or 1 page behind at load 6)
            awaitCpuTicks(p.pid(), WRITER_TICKS_BEFORE_LAST_PART);
            destination.lastPartFollows();
            FrozenCheckpoint frozen = session.finish(destination.sink(), CheckpointOptions.defaults(), true);
            leftBehind = session.pagesLeftBehind();
            return frozen;
        } finally {
            destination.lastPartFollows();
            destination.sink().close();
        }
    }

    /** Clock ticks (USER_HZ, 10 ms) of CPU the writer uses between the last round and the last part. */
    private static final int WRITER_TICKS_BEFORE_LAST_PART = 5;

    /** Waits until process {@code pid} has used {@code ticks} more clock ticks of CPU (user and system, /proc/PID/stat). */
    private static void awaitCpuTicks(int pid, int ticks) throws Exception {
        long start = cpuTicks(pid);
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (cpuTicks(pid) - start < ticks) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("process " + pid + " got no " + ticks + " ticks of CPU in 60 s");
            }
            Thread.sleep(2);
        }
    }

    private static long cpuTicks(int pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);   // utime, stime: fields 14 and 15 of proc(5)
    }

    private TestProgram writer(int mb, boolean churn) throws IOException {
        Path state = tmp.resolve("precopy_writer-state");
        Files.createDirectories(state);
        Files.writeString(state.resolve("config"), mb + " -1 " + (churn ? 1 : 0) + "\n");
        return startReady("precopy_writer");
    }

    /** No mapping of the copy is still registered with a userfaultfd (VmFlags um: missing mode) once the post-copy ended. */
    private static void assertNoUserfaultfdLeft(int pid) throws IOException {
        String smaps = Files.readString(Path.of("/proc", Integer.toString(pid), "smaps"));
        assertFalse(smaps.lines().anyMatch(l -> l.startsWith("VmFlags:") && (" " + l.substring(8) + " ").contains(" um ")),
            "a mapping of the copy is still registered for userfaultfd missing faults (VmFlags um)");
    }
}
