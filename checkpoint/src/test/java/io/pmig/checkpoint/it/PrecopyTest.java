package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.precopy.WriteForecast;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.PrecopyTarget;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.Round;
import io.pmig.checkpoint.image.PageCompressingChannel;
import io.pmig.checkpoint.image.PageCompression;
import io.pmig.checkpoint.StepTimes;
import io.pmig.checkpoint.dirty.DirtyTracking;
import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Pagemap;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Staged (pre-copy) migration through a pipe between two threads of this JVM: the source sends rounds
 * while precopy_writer keeps writing (and, with churn, changing its mappings), the destination builds
 * the copy in advance (in a new PID namespace: the original keeps its pid meanwhile) and finishes it
 * from the last part; the copy then checks every page it keeps itself. A stream cut mid-round must
 * leave the source process untouched and no half-built copy.
 */
class PrecopyTest extends ItSupport {
    private static final int PAGE = MemoryDumper.PAGE;

    @BeforeEach
    void rootAndTracking() {
        assumeRoot();
        assumeTrue(DirtyTracking.available() != DirtyTracking.Method.NONE, "this kernel cannot track written pages");
    }

    @Test
    @Timeout(120)
    void anIdleProcessNeedsOneRoundAndALastPartOfAlmostNothing() throws Exception {
        List<Round> rounds = migrate(writer(64, 0, false), PrecopyOptions.defaults()::shouldStop, 0);
        assertEquals(2, rounds.size(), "round 1 and the last part: " + rounds);
        assertTrue(rounds.get(0).pagesSent() >= 64 * 256, "round 1 sends the whole region: " + rounds.get(0));
        assertTrue(rounds.get(1).pagesSent() < 64, "an idle process's last part holds almost no page: " + rounds.get(1));
    }

    /**
     * A process holding a file on tmpfs open (its log, its state directory being in /dev/shm) is pre-copied: the file's
     * contents travel in the last part (a mapped one would refuse the pre-copy), and the copy PASSes.
     */
    @Test
    @Timeout(120)
    void aProcessHoldingATmpfsFileOpenIsPrecopied() throws Exception {
        Path state = Files.createTempDirectory(Path.of("/dev/shm"), "pmig-precopy-");
        Files.writeString(state.resolve("config"), "16 0 0\n");
        try (TestProgram p = TestProgram.start("precopy_writer", state)) {
            p.awaitReady();
            List<Round> rounds = migrate(p, PrecopyOptions.defaults()::shouldStop, 0);
            assertTrue(rounds.size() >= 2, "rounds and the last part: " + rounds);
        } finally {
            try (java.util.stream.Stream<Path> files = Files.walk(state)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
            Files.deleteIfExists(state.resolveSibling(state.getFileName() + ".pid")); // TestProgram's, beside the state
        }
    }

    /**
     * A server that maps a file per request (Apache's event MPM does) keeps its mappings changing while a round reads
     * them: a mapping gone between the listing and the look at its map_files link (stat, statfs) is read again, never
     * an error (a round failed on the statfs once), and the server is pre-copied whole.
     */
    @Test
    @Timeout(120)
    void aServerMappingAFilePerRequestIsReadAndPrecopied() throws Exception {
        TestProgram p = startReady("mapping_churn");
        MemoryDumper memory = new MemoryDumper(new ProcFs(p.pid()));
        for (int reading = 0; reading < 150; reading++) {
            memory.mappings();
        }
        List<Round> rounds = migrate(p, PrecopyOptions.defaults()::shouldStop, 0);
        assertTrue(rounds.size() >= 2, "rounds and the last part: " + rounds);
    }

    @Test
    @Timeout(120)
    void aLightWriterConvergesBelowTheThreshold() throws Exception {
        List<Round> rounds = migrate(writer(64, 4096, false), PrecopyOptions.defaults()::shouldStop, 0);
        Round beforeLast = rounds.get(rounds.size() - 2);
        assertTrue(beforeLast.pagesDirtied() <= PrecopyOptions.DEFAULT_STOP_BELOW_PAGES,
            "stopped because few pages were written meanwhile: " + rounds);
        assertTrue(rounds.get(rounds.size() - 1).pagesSent() < 64 * 256 / 4, "the last part is a small delta: " + rounds);
    }

    @Test
    @Timeout(180)
    void aHotLoopOverABigRegionStopsByTheRulesAndStillArrivesExactly() throws Exception {
        // plain pre-copy: the data filter would hold the hot pages back instead of sending them again
        PrecopyOptions options = new PrecopyOptions(16, 6, WriteForecast.Model.OFF);
        List<Round> rounds = migrate(writer(128, -1, false), options::shouldStop, 0, PageCompression.off(), options);
        List<Round> sent = rounds.subList(0, rounds.size() - 1);
        assertTrue(options.shouldStop(sent), "the rounds ended by the rules: " + rounds);
        assertTrue(sent.size() <= 6, "at most maxRounds rounds: " + rounds);
        Round last = sent.get(sent.size() - 1);
        boolean stoppedShrinking = sent.size() >= 2 && last.pagesDirtied() >= sent.get(sent.size() - 2).pagesDirtied();
        assertTrue(sent.size() == 6 || stoppedShrinking || last.pagesDirtied() <= 16, "which rule: " + rounds);
        assertTrue(sent.stream().skip(1).allMatch(r -> r.pagesSent() > 0 && r.pagesResent() > 0),
            "a hot loop leaves pages for every round, sent again: " + rounds);
        assertEquals(0, rounds.get(0).pagesResent(), "round 1 sends nothing twice");
    }

    /**
     * The data filter leaves pages of a hot loop out of the rounds (written again since the round began, or forecast to
     * be), and the copy still has every page as the original left it: what was left out came later or in the last part.
     */
    @Test
    @Timeout(180)
    void theDataFilterHoldsPagesOfAHotLoopBackAndTheCopyArrivesExactly() throws Exception {
        PrecopyOptions options = new PrecopyOptions(16, 6, WriteForecast.Model.RECENT_WRITES);
        List<Round> rounds = migrate(writer(128, -1, false), options::shouldStop, 0, PageCompression.off(), options);
        assertTrue(rounds.stream().mapToLong(Round::pagesHeldBack).sum() > 0, "pages were held back: " + rounds);
        assertEquals(0, rounds.get(rounds.size() - 1).pagesHeldBack(), "the last part holds nothing back: " + rounds);
    }

    @Test
    @Timeout(120)
    void compressedRoundsArriveExactly() throws Exception {
        // dirty_writer's region holds one byte per page: it compresses; the writer's pages (a hash per word) do not
        PageCompression compression = new PageCompression(PageCompression.Mode.ON, 0);
        TestProgram p = startReady("dirty_writer");
        List<Round> rounds = migrate(p, sent -> sent.size() == 2, 0, compression, PrecopyOptions.defaults());
        assertEquals(3, rounds.size(), "two rounds and the last part: " + rounds);
        assertTrue(compression.ran() && compression.ratio() > 4, "the pages went compressed: " + compression);
        PageCompression random = new PageCompression(PageCompression.Mode.ON, 0);
        migrate(writer(16, 2048, false), sent -> sent.size() == 2, 0, random, PrecopyOptions.defaults());
        assertTrue(random.runsRaw() >= 16 && random.ratio() < 1.1, "the 16 MiB of hashed pages went raw: " + random);
    }

    @Test
    @Timeout(180)
    void mappingChurnDuringThePrecopyIsFollowed() throws Exception {
        // five rounds, whatever the rules would say, with a pause between them: threads, malloc/free,
        // mremap, MADV_DONTNEED, mprotect and sbrk happen between and during them. No data filter: the pages the writer
        // discards are its hot ones, which the filter may hold back from every round, leaving nothing to drop (under load)
        List<Round> rounds = migrate(writer(32, 2048, true), sent -> sent.size() == 5, 30, PageCompression.off(),
            PrecopyOptions.defaults().withFilter(WriteForecast.Model.OFF));
        assertEquals(6, rounds.size(), "five rounds and the last part: " + rounds);
        assertTrue(rounds.stream().anyMatch(r -> r.pagesDropped() > 0), "pages discarded by the process were dropped: " + rounds);
    }

    @Test
    @Timeout(120)
    void aStreamCutMidRoundLeavesTheSourceUntouchedAndNoHalfBuiltCopy() throws Exception {
        TestProgram p = writer(32, 2048, true);
        Map<Integer, String> fdsBefore = fds(p.pid());
        ByteArrayOutputStream round1 = new ByteArrayOutputStream();
        ByteArrayOutputStream round2 = new ByteArrayOutputStream();
        try (PrecopySource session = new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults())) {
            session.sendRound(Channels.newChannel(round1));
            Thread.sleep(20);
            session.sendRound(Channels.newChannel(round2));
            Thread.sleep(20);
            FailedException e = assertThrows(FailedException.class, () -> session.sendRound(new CutAfter(64 * 1024)));
            assertTrue(e.getMessage().contains("round 3") && e.getMessage().contains("runs on untouched"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> session.sendRound(Channels.newChannel(new ByteArrayOutputStream())),
                "a failed round ends the session");
        }
        assertRunningUntraced(p.pid(), "after the failed round");
        assertNoTrackingLeft(p.pid(), fdsBefore);

        // the destination: round 1 builds the copy, round 2 arrives cut in the middle
        byte[] cut = Arrays.copyOf(round2.toByteArray(), round2.size() / 2);
        AtomicReference<Integer> copyPid = new AtomicReference<>();
        FailedException e = assertThrows(FailedException.class, () -> {
            try (PrecopyTarget target = new RestoreEngine().prepareInAdvance(
                    Channels.newChannel(new ByteArrayInputStream(round1.toByteArray())), "round stream", new RestoreOptions(true))) {
                copyPid.set(target.pid());
                assertTrue(TestProgram.pidExists(target.pid()), "the copy exists after round 1");
                target.receiveRound(Channels.newChannel(new ByteArrayInputStream(cut)));
            }
        });
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("was killed"), e.getMessage());
        awaitGone(copyPid.get(), "the half-built copy");

        // a round is not a whole image: a bundle restore refuses it before creating anything
        RefusedException refused = assertThrows(RefusedException.class, () -> restoreFrom(round1.toByteArray(), new RestoreOptions(true)));
        assertTrue(refused.getMessage().contains("pre-copy"), refused.getMessage());
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(120)
    void anAbortedLastPartLeavesTheSourceRunningWithoutTracking() throws Exception {
        TestProgram p = writer(32, 2048, false);
        Map<Integer, String> fdsBefore = fds(p.pid());
        WritableByteChannel discard = Channels.newChannel(OutputStream.nullOutputStream());
        FrozenCheckpoint frozen;
        try (PrecopySource session = new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults())) {
            session.sendRound(discard);
            frozen = session.finish(discard, CheckpointOptions.defaults());
        }
        List<String> steps = frozen.report().steps().steps().stream().map(StepTimes.Step::name).toList();
        assertTrue(steps.containsAll(List.of("freeze", "task state", "written pages", "pages gone", "pages")), steps.toString());
        assertEquals(frozen.report().frozenNanos(), frozen.report().steps().totalNanos(), "the frozen time is the steps' sum");
        // tracking outlives the session (closing it while the process is frozen would cost downtime) and ends with the decision
        frozen.abort();
        assertRunningUntraced(p.pid(), "after the aborted last part");
        assertNoTrackingLeft(p.pid(), fdsBefore);
        goExpectPassAndExit(p);
    }

    /** Starts precopy_writer with MB MiB written at rateKib KiB/s (-1: flat out), with or without mapping churn. */
    private TestProgram writer(int mb, int rateKib, boolean churn) throws IOException {
        Path state = tmp.resolve("precopy_writer-state");
        Files.createDirectories(state);
        Files.writeString(state.resolve("config"), mb + " " + rateKib + " " + (churn ? 1 : 0) + "\n");
        return startReady("precopy_writer");
    }

    /**
     * Migrates p staged through a pipe: rounds until {@code stop} says so (with {@code pauseMs} between
     * them), the last part, then commit; the copy must PASS its own check. Returns every round, the last
     * part last.
     */
    private static List<Round> migrate(TestProgram p, Predicate<List<Round>> stop, long pauseMs) throws Exception {
        return migrate(p, stop, pauseMs, PageCompression.off(), PrecopyOptions.defaults());
    }

    /**
     * {@link #migrate(TestProgram, Predicate, long)} with the rounds' and the last part's pages compressed as {@code compression}
     * says, and the session's {@code options} (its data filter; {@code stop} decides when the rounds end).
     */
    private static List<Round> migrate(TestProgram p, Predicate<List<Round>> stop, long pauseMs, PageCompression compression,
                                       PrecopyOptions options) throws Exception {
        Map<Integer, String> fdsBefore = fds(p.pid());
        StagedDestination destination = StagedDestination.start();
        WritableByteChannel sink = PageCompressingChannel.over(destination.sink(), compression);
        FrozenCheckpoint frozen;
        List<Round> rounds;
        try (PrecopySource session = new CheckpointEngine().precopy(p.pid(), options)) {
            session.sendRound(sink);
            while (!stop.test(session.rounds())) {
                Thread.sleep(pauseMs);
                destination.roundFollows();
                session.sendRound(sink);
            }
            destination.lastPartFollows();
            frozen = session.finish(sink, CheckpointOptions.defaults());
            rounds = session.rounds();
        } finally {
            destination.lastPartFollows();
            destination.sink().close();
        }
        AtomicReference<Integer> copyPid = new AtomicReference<>();
        try {
            copyPid.set(destination.awaitCopy().get(0));
        } catch (AssertionError e) {
            frozen.abort();
            throw e;
        }
        try {
            assertTrue(rounds.get(rounds.size() - 1).last(), "the last part ends the rounds");
            frozen.commit();
            p.awaitPidFree(PID_FREE_TIMEOUT);
            assertRunningUntraced(copyPid.get(), "after the staged restore");
            // the tracking leaves no trace in the copy either: the original's descriptors, nothing write-protected
            assertEquals(fdsBefore.keySet(), fds(copyPid.get()).keySet(), "the copy's descriptors");
            assertNoWriteProtection(copyPid.get());
            p.go();
            assertPass(p, awaitResultOf(p.stateDir(), copyPid.get()));
            return rounds;
        } finally {
            killQuietly(copyPid.get());
        }
    }

    /** No descriptor more or less than before, no page still write-protected, no range still registered. */
    private static void assertNoTrackingLeft(int pid, Map<Integer, String> fdsBefore) throws Exception {
        assertEquals(fdsBefore, fds(pid), "the process's descriptors after the session");
        assertNoWriteProtection(pid);
    }

    private static void assertNoWriteProtection(int pid) throws Exception {
        int pagemap = Linux.open("/proc/" + pid + "/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            for (MapsEntry m : new ProcFs(pid).maps()) {
                if (m.path().equals("[vsyscall]")) {
                    continue;
                }
                long[] entries = MemoryDumper.pagemapEntries(pagemap, m.start(), m.end());
                for (int i = 0; i < entries.length; i++) {
                    assertEquals(0, entries[i] & Pagemap.PM_UFFD_WP,
                        "page 0x" + Long.toHexString(m.start() + (long) i * PAGE) + " still write-protected after the session");
                }
            }
        } finally {
            Linux.close(pagemap);
        }
        String smaps = Files.readString(Path.of("/proc", Integer.toString(pid), "smaps"));
        assertFalse(smaps.lines().anyMatch(l -> l.startsWith("VmFlags:") && (" " + l.substring(8) + " ").contains(" uw ")),
            "a mapping is still registered for userfaultfd write-protection (VmFlags uw)");
    }
}
