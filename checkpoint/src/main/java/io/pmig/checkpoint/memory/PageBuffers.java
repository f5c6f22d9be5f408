package io.pmig.checkpoint.memory;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The pairs of direct buffers the page copy reads into, kept for the next checkpoint: a new pair costs its zeroing and
 * a page fault per 4 KiB, 3-6 ms of frozen time for two 4 MiB buffers on a busy machine. The {@value #KEPT} largest are
 * kept (two checkpoints at once in a daemon); a pair still written into (a copy that failed half-way) is never given back.
 */
final class PageBuffers {
    private static final int KEPT = 2;
    private static final List<ByteBuffer[]> FREE = new ArrayList<>();

    private PageBuffers() {
    }

    /**
     * Two buffers of at least {@code bytes} each: kept ones if big enough, else new ones of {@code bytes} (a pre-copy's last
     * part, often a few pages, makes small ones rather than zero two full buffers).
     */
    static ByteBuffer[] take(int bytes) {
        synchronized (FREE) {
            for (int i = 0; i < FREE.size(); i++) {
                if (FREE.get(i)[0].capacity() >= bytes) {
                    return FREE.remove(i);
                }
            }
        }
        return new ByteBuffer[] {ByteBuffer.allocateDirect(bytes), ByteBuffer.allocateDirect(bytes)};
    }

    /** Gives back a pair that no reader writes into any more, for the next checkpoint. */
    static void give(ByteBuffer[] pair) {
        pair[0].clear();
        pair[1].clear();
        synchronized (FREE) {
            FREE.add(pair);
            if (FREE.size() > KEPT) {
                FREE.remove(FREE.stream().min(Comparator.comparingInt(p -> p[0].capacity())).orElseThrow());
            }
        }
    }
}
