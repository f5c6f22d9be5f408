package io.pmig.checkpoint.dirty;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A set of pages as disjoint, non-adjacent runs: what pre-copy has sent, what it must send or drop.
 * Not thread-safe.
 */
public final class PageSet {
    /** start -> end of each run, runs disjoint and never touching (touching runs are merged). */
    private final TreeMap<Long, Long> runs = new TreeMap<>();

    public PageSet() {
    }

    public static PageSet of(List<PageRange> ranges) {
        PageSet s = new PageSet();
        for (PageRange r : ranges) {
            s.add(r.start(), r.end());
        }
        return s;
    }

    public void add(long start, long end) {
        if (start >= end) {
            return;
        }
        Map.Entry<Long, Long> before = runs.floorEntry(start);
        if (before != null && before.getValue() >= start) {
            start = before.getKey();
            end = Math.max(end, before.getValue());
        }
        Map.Entry<Long, Long> next;
        while ((next = runs.ceilingEntry(start)) != null && next.getKey() <= end) {
            end = Math.max(end, next.getValue());
            runs.remove(next.getKey());
        }
        runs.put(start, end);
    }

    public void addAll(PageSet other) {
        other.runs.forEach(this::add);
    }

    public void remove(long start, long end) {
        if (start >= end) {
            return;
        }
        Map.Entry<Long, Long> before = runs.lowerEntry(start);
        if (before != null && before.getValue() > start) {
            runs.put(before.getKey(), start);
            if (before.getValue() > end) {
                runs.put(end, before.getValue());
                return;
            }
        }
        Map.Entry<Long, Long> next;
        while ((next = runs.ceilingEntry(start)) != null && next.getKey() < end) {
            runs.remove(next.getKey());
            if (next.getValue() > end) {
                runs.put(end, next.getValue());
            }
        }
    }

    public void removeAll(PageSet other) {
        other.runs.forEach(this::remove);
    }

    /** The pages of this set that are also in {@code other}. */
    public PageSet intersect(PageSet other) {
        PageSet out = new PageSet();
        for (Map.Entry<Long, Long> r : other.runs.entrySet()) {
            Long from = runs.floorKey(r.getKey());
            for (Map.Entry<Long, Long> mine : runs.tailMap(from == null ? r.getKey() : from, true).entrySet()) {
                if (mine.getKey() >= r.getValue()) {
                    break;
                }
                out.add(Math.max(mine.getKey(), r.getKey()), Math.min(mine.getValue(), r.getValue()));
            }
        }
        return out;
    }

    public boolean contains(long address) {
        Map.Entry<Long, Long> run = runs.floorEntry(address);
        return run != null && run.getValue() > address;
    }

    public boolean isEmpty() {
        return runs.isEmpty();
    }

    public long bytes() {
        long n = 0;
        for (Map.Entry<Long, Long> r : runs.entrySet()) {
            n += r.getValue() - r.getKey();
        }
        return n;
    }

    /** The runs in ascending order. */
    public List<PageRange> ranges() {
        List<PageRange> out = new ArrayList<>(runs.size());
        runs.forEach((s, e) -> out.add(new PageRange(s, e)));
        return out;
    }

    @Override
    public String toString() {
        return ranges().toString();
    }
}
