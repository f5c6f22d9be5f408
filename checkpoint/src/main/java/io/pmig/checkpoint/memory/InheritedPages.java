package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.ptrace.RemoteMemory;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.nativeio.NativeMemory;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * The pages of a tree's member forked by its restored parent once the parent's address space was built
 * ({@link MemoryRestorer#inherit}): in the private ranges it kept of the parent's, the child starts with the parent's
 * pages, copy-on-write, as the original did after its fork. A page of the child's image that holds what the inherited
 * page holds is therefore not written, and the two go on sharing it (a prefork server's workers share most of their
 * memory with their parent: written, each would hold a copy of its own). An inherited page the image does not store
 * is dropped once the image's pages are in ({@link #dropUnstored}): the original child read zeros or its file there.
 */
public final class InheritedPages {
    private final Puppet child;
    private final PageSet kept;
    private final PageSet stored = new PageSet();
    private final NativeMemory iov = NativeMemory.allocate(32);
    private ByteBuffer current = ByteBuffer.allocateDirect(0);

    /** The pages to be written into {@code child}, whose {@code kept} private ranges hold its parent's pages. */
    public InheritedPages(Puppet child, PageSet kept) {
        this.child = child;
        this.kept = kept;
    }

    /** Writes one run of the image's pages at {@code address}, but the pages that hold what the child inherited. */
    public void write(long address, ByteBuffer data) {
        long end = address + data.remaining();
        stored.add(address, end);
        List<PageRange> inherited = kept.intersect(PageSet.of(List.of(new PageRange(address, end)))).ranges();
        if (inherited.isEmpty()) {
            MemoryRestorer.writeRun(child, address, data, iov);
            return;
        }
        ByteBuffer now = readInherited(address, data.remaining(), inherited);
        int page = MemoryDumper.PAGE;
        int next = 0;                                   // the inherited range the page may be in
        long differingFrom = -1;
        for (long a = address; a < end; a += page) {
            while (next < inherited.size() && inherited.get(next).end() <= a) {
                next++;
            }
            int offset = (int) (a - address);
            boolean same = next < inherited.size() && inherited.get(next).start() <= a
                && data.slice(data.position() + offset, page).mismatch(now.slice(offset, page)) == -1;
            if (same) {
                if (differingFrom >= 0) {
                    writePart(address, data, differingFrom, a);
                    differingFrom = -1;
                }
            } else if (differingFrom < 0) {
                differingFrom = a;
            }
        }
        if (differingFrom >= 0) {
            writePart(address, data, differingFrom, end);
        }
    }

    /**
     * Drops the inherited pages of the kept ranges that hold data of the parent's own (present and not its file's, or
     * swapped out) and that the child's image does not store: in the original child they were never written, or dropped.
     */
    public void dropUnstored(List<MappingImage> layout) {
        PageSet parentsOnly = new PageSet();
        int pagemap = Linux.open("/proc/" + child.pid() + "/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            for (PageRange r : kept.ranges()) {
                long[] entries = MemoryDumper.pagemapEntries(pagemap, r.start(), r.end());
                for (int i = 0; i < entries.length; i++) {
                    if (MemoryDumper.worthStoring(entries[i], true)) {
                        long page = r.start() + (long) i * MemoryDumper.PAGE;
                        parentsOnly.add(page, page + MemoryDumper.PAGE);
                    }
                }
            }
        } finally {
            Linux.close(pagemap);
        }
        parentsOnly.removeAll(stored);
        MemoryRestorer.drop(child, layout, parentsOnly.ranges());
    }

    /** What the child holds now in the {@code inherited} parts of the run at {@code address}, at their offsets in the run. */
    private ByteBuffer readInherited(long address, int length, List<PageRange> inherited) {
        if (current.capacity() < length) {
            current = ByteBuffer.allocateDirect(length);
        }
        for (PageRange r : inherited) {
            RemoteMemory.readLeavingShared(child.pid(), r.start(), NativeMemory.addressOf(current) + r.start() - address, r.length());
        }
        return current;
    }

    private void writePart(long address, ByteBuffer data, long from, long to) {
        MemoryRestorer.writeRun(child, from, data.slice(data.position() + (int) (from - address), (int) (to - from)), iov);
    }
}
