package io.pmig.checkpoint.image;

import java.util.Map;
import java.util.TreeMap;

// Addresses are u64, so they are ordered unsigned; ends are exclusive and never wrap (callers check).
final class PageRunIndex {
    private final TreeMap<Long, Long> runs = new TreeMap<>(Long::compareUnsigned);

    long[] overlapping(long start, long end) {
        Map.Entry<Long, Long> below = runs.floorEntry(start);
        if (below != null && Long.compareUnsigned(below.getValue(), start) > 0) {
            return new long[] {below.getKey(), below.getValue()};
        }
        Map.Entry<Long, Long> above = runs.higherEntry(start);
        if (above != null && Long.compareUnsigned(above.getKey(), end) < 0) {
            return new long[] {above.getKey(), above.getValue()};
        }
        return null;
    }

    void add(long start, long end) {
        runs.put(start, end);
    }

    static boolean wraps(long start, long length) {
        return Long.compareUnsigned(start + length, start) <= 0;
    }
}
