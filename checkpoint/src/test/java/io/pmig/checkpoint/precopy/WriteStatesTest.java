package io.pmig.checkpoint.precopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.memory.MemoryDumper;

import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** Ruan et al.'s write states, from deterministic write histories fed one slot at a time. */
class WriteStatesTest {
    private static final long PAGE = MemoryDumper.PAGE;
    private static final long REGION = 1L << WriteStates.REGION_SHIFT;
    private static final long BASE = 0x7f0000000000L;

    /** {@code count} pages from page {@code from} of region {@code region}. */
    private static PageSet pages(int region, long from, long count) {
        long start = BASE + region * REGION + from * PAGE;
        return PageSet.of(List.of(new PageRange(start, start + count * PAGE)));
    }

    private static PageSet all(int regions) {
        return PageSet.of(List.of(new PageRange(BASE, BASE + regions * REGION)));
    }

    @Test
    void statesThatFollowEachOtherForecastTheirWorkingSets() {
        // a loop over three regions in turn, 128 pages of each; region 3 is written once, in slot 1
        WriteStates s = new WriteStates();
        s.addSlot(pages(3, 0, 512));
        for (int slot = 0; slot < 30; slot++) {
            s.addSlot(pages(slot % 3, 0, 128));
        }
        PageSet expected = new PageSet();
        for (int region = 0; region < 3; region++) {
            expected.addAll(pages(region, 0, 128));
        }
        assertEquals(expected.ranges(), s.rewrittenWithin(all(4), 3).ranges(), "three slots walk through the three states");
        // the last slot wrote region 2 (29 % 3): the chain goes to 0 next, then 1
        assertEquals(pages(0, 0, 128).ranges(), s.rewrittenWithin(all(4), 1).ranges(), "one slot: the next state's set alone");
    }

    @Test
    void aProcessThatLeftTheModelGetsNoForecast() {
        // states drawn at random among 32 regions: the most likely next state is right about 1 time in 32
        WriteStates s = new WriteStates();
        Random random = new Random(7);
        for (int slot = 0; slot < 200; slot++) {
            s.addSlot(pages(random.nextInt(32), 0, 64));
        }
        assertTrue(s.rewrittenWithin(all(32), 50).isEmpty(), "a model that predicts nothing holds nothing back");
    }

    @Test
    void aQuietProcessHasNothingToForecast() {
        WriteStates s = new WriteStates();
        for (int slot = 0; slot < 20; slot++) {
            s.addSlot(new PageSet());
        }
        assertTrue(s.rewrittenWithin(all(4), 100).isEmpty());
    }
}
