package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.checkpoint.dirty.DirtyTracker;
import io.pmig.checkpoint.dirty.DirtyTracking;
import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Pagemap;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Dirty tracking against dirty_writer, which writes exactly the pages it is told to in a region of
 * its own (half of it never touched before): each interval must report exactly those pages of the
 * region, and closing the tracker must leave the process as it was — the same descriptors, no page
 * write-protected, no mapping registered with a userfaultfd — and still writing correctly.
 */
class DirtyTrackerTest extends ItSupport {
    /** dirty_writer.c's EXTRA_PAGES, and the pages it writes of CHURN_PAGES (whole pages only). */
    private static final int EXTRA_PAGES = 8;
    private static final int CHURN_PAGES_WRITTEN = 15;

    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    void thisKernelOffersAMethod() {
        // the development kernel has no soft-dirty but userfaultfd-wp and PAGEMAP_SCAN (shared/FACTS.md)
        assertNotEquals(DirtyTracking.Method.NONE, DirtyTracking.available(), "no dirty tracking on this kernel");
    }

    @Test
    @Timeout(60)
    void reportsExactlyThePagesWrittenAndLeavesNoTrace() throws Exception {
        DirtyTracking.Method method = DirtyTracking.available();
        assumeTrue(method != DirtyTracking.Method.NONE, "no dirty tracking on this kernel");
        TestProgram p = startReady("dirty_writer");
        long[] region = pagesOf(p, "region");
        long start = region[0];
        long end = region[1];
        int pages = (int) ((end - start) / MemoryDumper.PAGE);
        Map<Integer, String> fdsBefore = fds(p.pid());

        try (DirtyTracker tracker = DirtyTracking.start(p.pid())) {
            assertEquals(method.toString(), tracker.method());
            assertEquals(fdsBefore, fds(p.pid()), "tracking adds no descriptor to the process");
            int[][] rounds = {
                {0, 1, 2, 100, pages / 2, pages - 1},   // written before and never touched, at both ends
                {2, 5},                                 // page 2 again: it was protected again by the last scan
                {},                                     // nothing
                {7, 8, 9, 10, 600, 601},                // adjacent pages, reported as one run
            };
            for (int n = 0; n < rounds.length; n++) {
                command(p, n + 1, rounds[n]);
                TreeSet<Integer> want = new TreeSet<>();
                for (int page : rounds[n]) {
                    want.add(page);
                }
                assertEquals(want, pagesIn(tracker.written(), start, end), "round " + (n + 1) + " pages of the region");
            }
        }
        assertEquals(fdsBefore, fds(p.pid()), "the process's descriptors after close");
        int pagemap = Linux.open("/proc/" + p.pid() + "/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            long[] entries = MemoryDumper.pagemapEntries(pagemap, start, end);
            for (int i = 0; i < entries.length; i++) {
                assertEquals(0, entries[i] & Pagemap.PM_UFFD_WP, "page " + i + " still write-protected after close");
            }
        } finally {
            Linux.close(pagemap);
        }
        String smaps = Files.readString(Path.of("/proc", Integer.toString(p.pid()), "smaps"));
        assertFalse(smaps.lines().anyMatch(l -> l.startsWith("VmFlags:") && (" " + l.substring(8) + " ").contains(" uw ")),
            "a mapping is still registered for userfaultfd write-protection (VmFlags uw)");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(60)
    void followsMappingsCreatedAndReplacedMeanwhile() throws Exception {
        assumeTrue(DirtyTracking.available() != DirtyTracking.Method.NONE, "no dirty tracking on this kernel");
        TestProgram p = startReady("dirty_writer");
        Map<Integer, String> fdsBefore = fds(p.pid());
        try (DirtyTracker tracker = DirtyTracking.start(p.pid())) {
            command(p, 1, "new");           // a mapping the tracker never saw: reported whole
            long[] extra = pagesOf(p, "extra");
            assertEquals(all(8), pagesIn(tracker.written(), extra[0], extra[1]), "a new mapping, whole");
            command(p, 2, "e5");            // tracked from then on, page by page
            assertEquals(Set.of(5), pagesIn(tracker.written(), extra[0], extra[1]), "the new mapping after one write");
            command(p, 3, "");
            assertEquals(Set.of(), pagesIn(tracker.written(), extra[0], extra[1]), "the new mapping untouched");
            command(p, 4, "fresh");         // another mapping at the same place: never tracked, whole again
            assertEquals(all(8), pagesIn(tracker.written(), extra[0], extra[1]), "a replaced mapping, whole");
            command(p, 5, "e2");
            assertEquals(Set.of(2), pagesIn(tracker.written(), extra[0], extra[1]), "the replacement after one write");
        }
        assertEquals(fdsBefore, fds(p.pid()), "the process's descriptors after close");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(60)
    void followsMappingsMovedUnmappedAndGrown() throws Exception {
        assumeTrue(DirtyTracking.available() != DirtyTracking.Method.NONE, "no dirty tracking on this kernel");
        TestProgram p = startReady("dirty_writer");
        long[] region = pagesOf(p, "region");
        try (DirtyTracker tracker = DirtyTracking.start(p.pid())) {
            command(p, 1, "new");
            tracker.written();
            command(p, 2, "move 3");        // grown and moved by mremap: the page written there at least
            List<PageRange> written = tracker.written();
            long[] moved = pagesOf(p, "extra");
            assertTrue(pagesIn(written, moved[0], moved[1]).contains(EXTRA_PAGES + 1), "the moved mapping's written page: " + written);
            assertEquals(Set.of(3), pagesIn(written, region[0], region[1]), "the region beside a moved mapping");
            command(p, 3, "");
            assertEquals(Set.of(), pagesIn(tracker.written(), moved[0], moved[1]), "the moved mapping untouched");
            command(p, 4, "unmap");
            assertEquals(Set.of(), pagesIn(tracker.written(), moved[0], moved[1]), "where the unmapped mapping was");
            command(p, 5, "brk stack thread 4");
            written = tracker.written();
            for (String grown : List.of("brk", "stack", "thread")) {
                long[] pages = pagesOf(p, grown);
                assertEquals(all(CHURN_PAGES_WRITTEN), pagesIn(written, pages[0], pages[1]), "the pages written into the grown " + grown);
            }
            assertEquals(Set.of(4), pagesIn(written, region[0], region[1]), "the region beside the churn");
            command(p, 6, "");
            written = tracker.written();
            // not the stack: the process's own calls write its top pages
            for (String untouched : List.of("brk", "thread", "region")) {
                long[] pages = pagesOf(p, untouched);
                assertEquals(Set.of(), pagesIn(written, pages[0], pages[1]), "the " + untouched + " pages untouched");
            }
        }
        goExpectPassAndExit(p);
    }

    private static TreeSet<Integer> all(int pages) {
        TreeSet<Integer> out = new TreeSet<>();
        for (int i = 0; i < pages; i++) {
            out.add(i);
        }
        return out;
    }

    /** [start, end) of the pages dirty_writer reports in a file of its state directory ("ADDR PAGES"): region, extra, brk... */
    private static long[] pagesOf(TestProgram p, String file) throws Exception {
        String[] where = Files.readString(p.stateDir().resolve(file)).trim().split(" ");
        long start = Long.parseUnsignedLong(where[0], 16);
        return new long[] {start, start + Long.parseLong(where[1]) * MemoryDumper.PAGE};
    }

    /** Tells dirty_writer to write {@code pages} (command n) and waits until it has. */
    private static void command(TestProgram p, int n, int[] pages) throws Exception {
        StringBuilder list = new StringBuilder();
        for (int page : pages) {
            list.append(page).append(' ');
        }
        command(p, n, list.toString());
    }

    /** Gives dirty_writer command n ({@code words}, see dirty_writer.c) and waits until it has carried it out. */
    private static void command(TestProgram p, int n, String words) throws Exception {
        String list = words;
        Path tmp = p.stateDir().resolve("write-" + n + ".tmp");
        Files.writeString(tmp, list);
        Files.move(tmp, p.stateDir().resolve("write-" + n), StandardCopyOption.ATOMIC_MOVE);
        Path done = p.stateDir().resolve("written-" + n);
        for (int i = 0; i < 1000 && !Files.exists(done); i++) {
            Thread.sleep(5);
        }
        assertTrue(Files.exists(done), "dirty_writer did not carry out command " + n + "; log:\n" + p.logTail());
    }

    /** Page indices of [start, end) that the runs cover. */
    private static TreeSet<Integer> pagesIn(List<PageRange> runs, long start, long end) {
        TreeSet<Integer> out = new TreeSet<>();
        long previousEnd = -1;
        for (PageRange r : runs) {
            assertTrue(r.start() > previousEnd, "runs ascending and merged: " + runs);
            previousEnd = r.end();
            for (long a = Math.max(r.start(), start); a < Math.min(r.end(), end); a += MemoryDumper.PAGE) {
                out.add((int) ((a - start) / MemoryDumper.PAGE));
            }
        }
        return out;
    }
}
