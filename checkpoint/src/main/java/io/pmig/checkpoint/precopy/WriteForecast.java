package io.pmig.checkpoint.precopy;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.memory.MemoryDumper;

import java.util.function.LongPredicate;

/**
 * What the data filter asks of a model of a process's writes: it learns the pages written in each slot of time
 * ({@link DataFilter#SLOT_NANOS} or longer), and names the pages it expects written again within a number of slots.
 * Not thread-safe.
 */
public interface WriteForecast {
    /** Closes a slot: {@code written} were the pages written during it. */
    void addSlot(PageSet written);

    /** Slots closed so far. */
    int slots();

    /** Of {@code candidates}, the pages forecast to be written again within {@code horizonSlots} slots. */
    PageSet rewrittenWithin(PageSet candidates, double horizonSlots);

    /** The pages of {@code candidates} that {@code expected} holds for, as runs. */
    static PageSet pagesWhere(PageSet candidates, LongPredicate expected) {
        PageSet out = new PageSet();
        for (PageRange r : candidates.ranges()) {
            long runStart = -1;
            for (long page = r.start(); page < r.end(); page += MemoryDumper.PAGE) {
                boolean in = expected.test(page);
                if (in && runStart < 0) {
                    runStart = page;
                } else if (!in && runStart >= 0) {
                    out.add(runStart, page);
                    runStart = -1;
                }
            }
            if (runStart >= 0) {
                out.add(runStart, r.end());
            }
        }
        return out;
    }

    /** The models a pre-copy can filter with ({@link io.pmig.checkpoint.PrecopyOptions#filter()}). */
    enum Model {
        /** No filter: plain pre-copy. */
        OFF,
        /** Each page's own recent writes ({@link RecentWrites}); the default. */
        RECENT_WRITES,
        /** Ruan et al.'s write states and their transitions ({@link WriteStates}), to compare against. */
        WRITE_STATES;

        /** A fresh model of this kind; null for {@link #OFF}. */
        public WriteForecast create() {
            return switch (this) {
                case OFF -> null;
                case RECENT_WRITES -> new RecentWrites();
                case WRITE_STATES -> new WriteStates();
            };
        }
    }
}
