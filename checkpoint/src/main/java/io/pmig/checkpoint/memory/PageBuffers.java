package io.pmig.checkpoint.memory;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The pairs of direct buffers the page copy reads into, kept for the next checkpoint: a new pair costs its zeroing and
 * a page fault per 4 KiB, 3-6 ms of frozen time for a full pair on a busy machine. At most {@value #KEPT} pairs are kept
 * (two checkpoints at once in a daemon); a pair still written into (a copy that failed half-way) is never given back.
 */
final class PageBuffers {
    private static final int KEPT = 2;
    private static final Deque<ByteBuffer[]> FREE = new ArrayDeque<>();

    private PageBuffers() {
    }

    /** Two buffers of {@code bytes} each. */
    static ByteBuffer[] take(int bytes) {
        synchronized (FREE) {
            ByteBuffer[] kept = FREE.poll();
            if (kept != null && kept[0].capacity() == bytes) {
                return kept;
            }
        }
        return new ByteBuffer[] {ByteBuffer.allocateDirect(bytes), ByteBuffer.allocateDirect(bytes)};
    }

    /** Gives back a pair that no reader writes into any more, for the next checkpoint. */
    static void give(ByteBuffer[] pair) {
        pair[0].clear();
        pair[1].clear();
        synchronized (FREE) {
            if (FREE.size() < KEPT) {
                FREE.push(pair);
            }
        }
    }
}
