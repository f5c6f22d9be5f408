package io.pmig.checkpoint.precopy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.memory.MemoryDumper;

import java.util.List;

import org.junit.jupiter.api.Test;

class PageHistoryTest {
    private static final long A = 0x555500000000L;
    private static final long B = A + (3L << 21) + 7 * MemoryDumper.PAGE; // another 2 MiB block

    private static PageSet page(long address) {
        return PageSet.of(List.of(new PageRange(address, address + MemoryDumper.PAGE)));
    }

    @Test
    void recentWritesDecayBySlot() {
        PageHistory h = new PageHistory(0.5);
        h.addSlot(page(A));
        h.addSlot(page(A));
        h.addSlot(page(B));
        h.addSlot(new PageSet());
        // A: written in slots 1 and 2 -> (0.5 + 1) * 0.5^2; B: in slot 3 -> 0.5
        assertEquals(1.5 * 0.25, h.recentWrites(A), 1e-6);
        assertEquals(0.5, h.recentWrites(B), 1e-6);
        assertEquals(0, h.recentWrites(A + MemoryDumper.PAGE), 1e-9);
        assertEquals(4, h.slots());
    }

    @Test
    void aPageWrittenInEverySlotHasTheWholeShare() {
        PageHistory h = new PageHistory(0.9);
        for (int i = 0; i < 7; i++) {
            h.addSlot(i % 2 == 0 ? page(A) : PageSet.of(List.of(new PageRange(A, A + 2 * MemoryDumper.PAGE))));
        }
        assertEquals(1.0, h.writtenShare(A), 1e-6);
        assertEquals(0.0, new PageHistory(0.9).writtenShare(A), 1e-9);
        // the second page: slots 2, 4, 6 of 7
        double weight = 0.9 + Math.pow(0.9, 3) + Math.pow(0.9, 5);
        assertEquals(weight * 0.1 / (1 - Math.pow(0.9, 7)), h.writtenShare(A + MemoryDumper.PAGE), 1e-6);
    }
}
