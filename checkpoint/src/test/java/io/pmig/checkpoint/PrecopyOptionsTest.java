package io.pmig.checkpoint;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** When the rounds of a pre-copy stop, from the counts of the rounds before. */
class PrecopyOptionsTest {
    private static final PrecopyOptions OPTIONS = new PrecopyOptions(256, 30);

    /** A round that sent 1,000 pages while {@code dirtied} were written, holding back {@code held} of which {@code unwritten} were not. */
    private static Round round(int number, long dirtied, long held, long unwritten) {
        return new Round(number, false, 1000, 4_096_000, 1_000_000, dirtied, 0, 0, held, unwritten);
    }

    @Test
    void aShortLastPartCountsTheHeldPagesThatWereNotWritten() {
        // held back 5,000 pages, all written again: the last part would hold the 200 written, not 5,200
        assertTrue(OPTIONS.shouldStop(List.of(round(1, 200, 5000, 0))));
        assertFalse(OPTIONS.shouldStop(List.of(round(1, 200, 5000, 100))), "300 pages would freeze: more than 256");
    }

    @Test
    void roundsThatStoppedShrinkingStop() {
        assertTrue(OPTIONS.shouldStop(List.of(round(1, 3000, 0, 0), round(2, 3000, 0, 0))));
        assertFalse(OPTIONS.shouldStop(List.of(round(1, 3000, 0, 0), round(2, 2000, 0, 0))), "still shrinking");
    }

    @Test
    void coldPagesHeldBackBuyOneMoreRoundOnly() {
        // the last round held back 1,000 pages that were not written: the next sends them rather than the last part
        assertFalse(OPTIONS.shouldStop(List.of(round(1, 3000, 0, 0), round(2, 3000, 4000, 1000))));
        // once: the round after stops when it does not shrink, however many it held wrongly again
        assertTrue(OPTIONS.shouldStop(List.of(round(1, 3000, 0, 0), round(2, 3000, 4000, 1000), round(3, 3000, 4000, 1000))));
    }
}
