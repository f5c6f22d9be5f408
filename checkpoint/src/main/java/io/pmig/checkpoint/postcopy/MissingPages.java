package io.pmig.checkpoint.postcopy;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;

import java.util.ArrayList;
import java.util.List;

/**
 * The pages a running copy still lacks, by where they are in it now, and the moves (mremap) that carried some of them
 * away from the addresses the source knows them by. A page leaves the set when it is placed, or when the copy discards
 * or unmaps it (it then reads as the copy made it, never as the source's). Not thread-safe: {@link PageFetcher} guards it.
 */
final class MissingPages {
    private final PageSet missing = new PageSet();
    /** Each move that carried missing pages: from, to, length; in the order they happened. */
    private final List<long[]> moves = new ArrayList<>();

    MissingPages(PageSet pages) {
        missing.addAll(pages);
    }

    /** Where the page the source knows at {@code source} is missing in the copy now, or -1 if it is not missing any more. */
    long missingAt(long source) {
        long a = source;
        for (long[] m : moves) {
            if (a >= m[0] && a < m[0] + m[2]) {
                a = m[1] + (a - m[0]);
            }
        }
        // another page may have moved to where this one would be: only its own place counts
        return missing.contains(a) && sourceOf(a) == source ? a : -1;
    }

    /** The address the source knows the missing page at {@code current} by. */
    long sourceOf(long current) {
        long a = current;
        for (int i = moves.size() - 1; i >= 0; i--) {
            long[] m = moves.get(i);
            if (a >= m[1] && a < m[1] + m[2]) {
                a = m[0] + (a - m[1]);
            }
        }
        return a;
    }

    boolean contains(long current) {
        return missing.contains(current);
    }

    /** The pages [start, end) were placed, discarded or unmapped. */
    void remove(long start, long end) {
        missing.remove(start, end);
    }

    /** mremap moved [from, from+length) to [to, to+length) (whatever was at the target is gone). */
    void move(long from, long to, long length) {
        PageSet moved = missing.intersect(PageSet.of(List.of(new PageRange(from, from + length))));
        missing.remove(from, from + length);
        missing.remove(to, to + length);
        if (!moved.isEmpty()) {
            for (PageRange r : moved.ranges()) {
                missing.add(r.start() - from + to, r.end() - from + to);
            }
            moves.add(new long[] {from, to, length});
        }
    }

    void clear() {
        missing.remove(0, Long.MAX_VALUE);
    }

    boolean isEmpty() {
        return missing.isEmpty();
    }

    long pages() {
        return missing.bytes() / PageStream.PAGE;
    }
}
