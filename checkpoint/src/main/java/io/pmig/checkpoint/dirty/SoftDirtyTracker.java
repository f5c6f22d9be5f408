package io.pmig.checkpoint.dirty;

import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Pagemap;
import io.pmig.checkpoint.ptrace.FrozenProcess;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Tracks writes with the kernel's soft-dirty bits (CONFIG_MEM_SOFT_DIRTY): writing "4" to
 * /proc/PID/clear_refs clears them, a write sets a page's bit 55 in /proc/PID/pagemap. Reading the
 * bits and clearing them are two steps, so the process is frozen (ptrace) for both: a write between
 * them would be lost. Each call re-reads the mappings while the process is frozen: a mapping created
 * or moved since the last call carries VM_SOFTDIRTY, so pagemap shows all its pages as written.
 * Closing leaves the bits as the kernel keeps them anyway: nothing to undo. A transparent huge page
 * has one entry and one bit: a write anywhere in it reports all its 512 pages (Debian's kernel maps
 * anonymous memory with huge pages wherever it can), more to copy but nothing missed.
 */
final class SoftDirtyTracker implements DirtyTracker {
    private static final byte[] CLEAR_SOFT_DIRTY = "4".getBytes(StandardCharsets.US_ASCII);

    private final int pid;
    private boolean closed;

    private SoftDirtyTracker(int pid) {
        this.pid = pid;
    }

    static SoftDirtyTracker start(int pid) {
        clearRefs(pid);
        return new SoftDirtyTracker(pid);
    }

    @Override
    public String method() {
        return DirtyTracking.Method.SOFT_DIRTY.toString();
    }

    @Override
    public List<PageRange> written(boolean processFrozen) {
        if (closed) {
            throw new IllegalStateException("the write tracker of process " + pid + " is closed");
        }
        FrozenProcess frozen = processFrozen ? null : FrozenProcess.freeze(pid);
        try {
            List<PageRange> out = new ArrayList<>();
            int pagemap = Linux.open("/proc/" + pid + "/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
            try {
                for (PageRange r : DirtyTracking.trackedRanges(pid)) {
                    collect(pagemap, r, out);
                }
            } finally {
                Linux.close(pagemap);
            }
            clearRefs(pid);
            return out;
        } finally {
            if (frozen != null) {
                frozen.thaw();
            }
        }
    }

    private static void collect(int pagemap, PageRange r, List<PageRange> out) {
        long[] entries = MemoryDumper.pagemapEntries(pagemap, r.start(), r.end());
        for (int i = 0; i < entries.length; i++) {
            if ((entries[i] & Pagemap.PM_SOFT_DIRTY) != 0) {
                long page = r.start() + (long) i * MemoryDumper.PAGE;
                DirtyTracking.addMerged(out, page, page + MemoryDumper.PAGE);
            }
        }
    }

    private static void clearRefs(int pid) {
        int fd = Linux.open("/proc/" + pid + "/clear_refs", Linux.O_WRONLY | Linux.O_CLOEXEC, 0);
        try {
            Linux.writeFully(fd, CLEAR_SOFT_DIRTY);
        } finally {
            Linux.close(fd);
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}
