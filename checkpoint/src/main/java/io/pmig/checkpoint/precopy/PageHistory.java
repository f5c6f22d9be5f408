package io.pmig.checkpoint.precopy;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.memory.MemoryDumper;

import java.util.HashMap;
import java.util.Map;

/**
 * How often each page of a process was written lately, from its write tracker's answers grouped into slots of time
 * (see {@link DataFilter}): per page a decaying count of the slots it was written in — the latest slot weighs 1, the
 * one before {@code decay}, and so on — and the slot of its last write. Memory: a float and an int per page written
 * at least once, in blocks of 2 MiB of address space. Not thread-safe.
 */
public final class PageHistory {
    private static final int BLOCK_PAGES = 512;
    private static final int BLOCK_SHIFT = 21;

    private final double decay;
    private final Map<Long, Block> blocks = new HashMap<>();
    /** Slots closed so far. */
    private int slots;

    private static final class Block {
        /** The decayed count of each page as of its last write (0: never written). */
        final float[] weight = new float[BLOCK_PAGES];
        /** The slot of each page's last write, counting from 1. */
        final int[] lastSlot = new int[BLOCK_PAGES];
    }

    /** {@code decay} in (0, 1): how much a slot's write counts one slot later. */
    public PageHistory(double decay) {
        if (!(decay > 0 && decay < 1)) {
            throw new IllegalArgumentException("a page history's decay is in (0, 1), not " + decay);
        }
        this.decay = decay;
    }

    /** Closes a slot: {@code written} were the pages written during it. */
    public void addSlot(PageSet written) {
        slots++;
        for (PageRange r : written.ranges()) {
            for (long page = r.start(); page < r.end(); page += MemoryDumper.PAGE) {
                Block b = blocks.computeIfAbsent(page >>> BLOCK_SHIFT, k -> new Block());
                int i = index(page);
                b.weight[i] = (float) (b.weight[i] * Math.pow(decay, slots - b.lastSlot[i]) + 1);
                b.lastSlot[i] = slots;
            }
        }
    }

    public int slots() {
        return slots;
    }

    /** The decayed count of the slots the page at {@code address} was written in, as of the last slot closed. */
    public double recentWrites(long address) {
        Block b = blocks.get(address >>> BLOCK_SHIFT);
        if (b == null) {
            return 0;
        }
        int i = index(address);
        return b.weight[i] * Math.pow(decay, slots - b.lastSlot[i]);
    }

    /**
     * The share of the slots the page was written in, recent slots weighing more: 1 for a page written in every slot
     * so far, 0 for one never written (nor in the slots that still count).
     */
    public double writtenShare(long address) {
        return slots == 0 ? 0 : recentWrites(address) * (1 - decay) / (1 - Math.pow(decay, slots));
    }

    private static int index(long address) {
        return (int) ((address / MemoryDumper.PAGE) & (BLOCK_PAGES - 1));
    }
}
