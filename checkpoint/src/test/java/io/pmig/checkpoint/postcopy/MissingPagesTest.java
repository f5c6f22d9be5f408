package io.pmig.checkpoint.postcopy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Where a page the source sends belongs in a copy that discarded, unmapped and moved memory meanwhile. */
class MissingPagesTest {
    private static final long P = PageStream.PAGE;
    private static final long A = 0x10000000L;
    private static final long B = 0x20000000L;

    private static MissingPages missing(long start, long pages) {
        return new MissingPages(PageSet.of(List.of(new PageRange(start, start + pages * P))));
    }

    @Test
    void aPageIsMissingWhereItWasUntilPlacedOrDiscarded() {
        MissingPages m = missing(A, 4);
        assertEquals(A + P, m.missingAt(A + P));
        m.remove(A + P, A + 2 * P);                        // placed
        assertEquals(-1, m.missingAt(A + P));
        m.remove(A + 2 * P, A + 4 * P);                    // MADV_DONTNEED: reads as zeros now, never as the source's
        assertEquals(-1, m.missingAt(A + 3 * P));
        assertEquals(1, m.pages());
    }

    @Test
    void aMovedPageIsPlacedWhereItWentAndAskedForByItsOldAddress() {
        MissingPages m = missing(A, 4);
        m.move(A, B, 4 * P);
        assertFalse(m.contains(A));
        assertEquals(B + 2 * P, m.missingAt(A + 2 * P));
        assertEquals(A + 2 * P, m.sourceOf(B + 2 * P));
        m.move(B, A + 64 * P, 4 * P);                      // moved again
        assertEquals(A + 65 * P, m.missingAt(A + P));
        assertEquals(A + P, m.sourceOf(A + 65 * P));
    }

    @Test
    void anotherPageMovedOntoAnOldPlaceIsNotOverwrittenByThePageThatWasThere() {
        MissingPages m = new MissingPages(PageSet.of(List.of(new PageRange(A, A + P), new PageRange(B, B + P))));
        m.remove(A, A + P);                                 // A unmapped
        m.move(B, A, P);                                    // B's page moved to where A's was
        assertEquals(-1, m.missingAt(A), "A's old page must not land on B's");
        assertEquals(A, m.missingAt(B));
        assertTrue(m.contains(A));
    }

    @Test
    void aMoveOverMissingPagesDropsThem() {
        MissingPages m = new MissingPages(PageSet.of(List.of(new PageRange(A, A + 2 * P), new PageRange(B, B + 2 * P))));
        m.move(A + 64 * P, B, 2 * P);                       // a mapping with nothing missing replaces B's
        assertEquals(-1, m.missingAt(B));
        assertEquals(2, m.pages());
    }
}
