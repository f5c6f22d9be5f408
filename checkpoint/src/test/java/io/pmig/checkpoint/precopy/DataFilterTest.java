package io.pmig.checkpoint.precopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.memory.MemoryDumper;

import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * The data filter's forecast from deterministic write histories: the tracker's answers are fed at chosen times (one
 * slot each), and the pages held back are compared with what a workload of that kind must give.
 */
class DataFilterTest {
    private static final long PAGE = MemoryDumper.PAGE;
    private static final long SLOT = DataFilter.SLOT_NANOS;
    private static final long BASE = 0x7f0000000000L;

    /** Pages {@code from} (inclusive) to {@code to} (exclusive), counted from BASE. */
    private static PageSet pages(long from, long to) {
        return PageSet.of(List.of(new PageRange(BASE + from * PAGE, BASE + to * PAGE)));
    }

    /** A filter that saw {@code slots} slots, {@code written} written in slot i (null: nothing). */
    private static DataFilter after(int slots, java.util.function.IntFunction<PageSet> written) {
        DataFilter f = new DataFilter(0, new RecentWrites());
        for (int i = 1; i <= slots; i++) {
            PageSet w = written.apply(i);
            f.observe(w == null ? new PageSet() : w, i * SLOT);
        }
        return f;
    }

    @Test
    void aWriteLoopIsHeldBackWholeForARoundLongerThanItsPeriod() {
        // 1024 pages rewritten every 4 slots, 256 a slot: each page in every 4th slot, for 20 slots
        DataFilter f = after(20, i -> pages((i % 4) * 256L, (i % 4) * 256L + 256));
        assertEquals(pages(0, 1024).ranges(), f.holdBack(pages(0, 1024), 16 * SLOT).ranges(),
            "a round of 16 slots sees every page written four times");
        assertTrue(f.holdBack(pages(0, 1024), 4 * SLOT).isEmpty(), "a round of 4 slots expects one write of each: sent");
    }

    @Test
    void pagesWrittenInFewSlotsLatelyAreNotHeldBack() {
        // written in slots 10, 20 and 30: three writes, but the first two decayed below the evidence a forecast needs
        DataFilter f = after(30, i -> i % 10 == 0 ? pages(0, 10) : null);
        assertTrue(f.holdBack(pages(0, 10), 1000 * SLOT).isEmpty());
    }

    @Test
    void pagesWrittenOnceAreNeverHeldBackHowEverLongTheRound() {
        // a growing heap: slot i writes its own fresh 64 pages; and a mapping reported whole, then written once more
        DataFilter f = after(20, i -> i == 1 ? pages(5000, 6000) : i == 2 ? pages(5000, 5100) : pages(i * 64L, i * 64L + 64));
        assertTrue(f.holdBack(pages(0, 6000), 1000 * SLOT).isEmpty(), "written once or twice: nothing to forecast");
    }

    @Test
    void aHotSubsetIsHeldBackAndTheRestOfTheRoundGoes() {
        // pages 0-99 written every slot, pages 100-199 in every 4th, 200-299 never
        DataFilter f = after(30, i -> {
            PageSet w = pages(0, 100);
            if (i % 4 == 0) {
                w.addAll(pages(100, 200));
            }
            return w;
        });
        assertEquals(pages(0, 100).ranges(), f.holdBack(pages(0, 300), 3 * SLOT).ranges(), "only the hot subset within 3 slots");
        assertEquals(pages(0, 200).ranges(), f.holdBack(pages(0, 300), 12 * SLOT).ranges(),
            "within 12 slots the pages written every 4th slot are expected written 3 times");
        assertTrue(f.holdBack(pages(200, 300), 1000 * SLOT).isEmpty(), "never written");
    }

    @Test
    void aPageThatCooledDownIsSentAgain() {
        // pages written in every one of the first 10 slots, then 60 quiet slots (the workload moved on)
        DataFilter f = after(70, i -> i <= 10 ? pages(0, 50) : pages(1000, 1001));
        assertTrue(f.holdBack(pages(0, 50), 10 * SLOT).isEmpty(), "the history decayed: the pages go");
        DataFilter stillHot = after(12, i -> pages(0, 50));
        assertEquals(pages(0, 50).ranges(), stillHot.holdBack(pages(0, 50), 10 * SLOT).ranges(), "while they are hot they wait");
    }

    @Test
    void slotsThatLastedLongerCountAsLongAsTheyWere() {
        // every page written in every slot, but the slots lasted 4 times as long as planned (the tracker asked late):
        // a round of 4 planned slots is one real slot, one expected write: sent; of 9, more than two
        DataFilter f = new DataFilter(0, new RecentWrites());
        for (int i = 1; i <= 10; i++) {
            f.observe(pages(0, 10), i * 4 * SLOT);
        }
        assertTrue(f.holdBack(pages(0, 10), 4 * SLOT).isEmpty(), "one write expected in the round");
        assertEquals(pages(0, 10).ranges(), f.holdBack(pages(0, 10), 9 * SLOT).ranges(), "more than two expected");
    }

    @Test
    void answersWithinOneSlotAreOneSlot() {
        // four answers within one slot's time: one slot, so no page has the three slots a forecast needs
        DataFilter f = new DataFilter(0, new RecentWrites());
        for (int i = 1; i <= 4; i++) {
            f.observe(pages(0, 10), i * SLOT / 5);
        }
        f.observe(pages(0, 10), SLOT);
        assertTrue(f.holdBack(pages(0, 10), 100 * SLOT).isEmpty(), "one slot of history");
    }

    @Test
    void firstTakesTheLowestPagesAcrossRuns() {
        PageSet set = pages(0, 3);
        set.addAll(pages(10, 20));
        PageSet expected = pages(0, 3);
        expected.addAll(pages(10, 15));
        assertEquals(expected.ranges(), DataFilter.first(set, 8).ranges());
        assertEquals(set.ranges(), DataFilter.first(set, 100).ranges());
    }
}
