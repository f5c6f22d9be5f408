package io.pmig.checkpoint.postcopy;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.task.ThreadImage;

import java.util.List;

/**
 * Which pages a post-copy may leave at the source: those of private anonymous memory the process reads and writes
 * (its heap, malloc arenas, anonymous mmaps), the bulk of what a writer dirties. The destination fills them on first
 * touch through a userfaultfd registered in missing mode, which takes anonymous memory; a stack (it grows into its
 * guard gap), locked memory (mlock populates it at once) and the other kinds travel in the last part as before.
 */
public final class PagesLeftBehind {
    private static final long PAGE = MemoryDumper.PAGE;
    private PagesLeftBehind() {
    }

    public static boolean mayStayBehind(MappingImage m) {
        int rw = Linux.PROT_READ | Linux.PROT_WRITE;
        return m.backing() == MappingImage.Backing.ANONYMOUS && !m.shared() && !m.growsDown() && (m.prot() & rw) == rw
            && m.carried() == null && !m.vmFlags().contains("lo");
    }

    /**
     * The pages of {@code pages} that may stay at the source, by the layout {@code mappings}, but those the restore
     * itself writes to, which would cost the downtime a round trip each: each thread's rseq area (registering it writes
     * the cpu id there).
     */
    public static PageSet of(List<MappingImage> mappings, PageSet pages, List<ThreadImage> threads) {
        PageSet eligible = new PageSet();
        for (MappingImage m : mappings) {
            if (mayStayBehind(m)) {
                eligible.add(m.start(), m.end());
            }
        }
        for (ThreadImage t : threads) {
            if (t.rseqAddress() != 0) {
                eligible.remove(t.rseqAddress() & -PAGE, (t.rseqAddress() + t.rseqSize() + PAGE - 1) & -PAGE);
            }
        }
        return pages.intersect(eligible);
    }

    /** The mappings of {@code mappings} holding a page of {@code pages}. */
    static List<MappingImage> holding(List<MappingImage> mappings, PageSet pages) {
        return mappings.stream().filter(m -> !pages.intersect(PageSet.of(List.of(new PageRange(m.start(), m.end())))).isEmpty()).toList();
    }
}
