package io.pmig.checkpoint.precopy;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.memory.MemoryDumper;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Ruan et al.'s forecast (docs/checkpoint-engine.md, "The data filter"), kept to measure the default one against
 * (bench/data-filter). The address space is cut into regions of {@link #REGION_SHIFT}; the region with the most pages
 * written in a slot is that slot's <em>write state</em> (a slot with no write has a state of its own). Per state, the
 * pages written in at least {@link #LWWS_SHARE} of its slots form its local writable working set; between states, a
 * transition count is learnt slot by slot. The pages expected written within a horizon are the working sets of the
 * states the chain most likely walks through, a slot a step. When fewer than half of the last
 * {@link #MATCH_WINDOW} states were the ones the chain predicted, the model no longer describes the process and
 * forecasts nothing (plain pre-copy), as theirs switches itself off.
 */
public final class WriteStates implements WriteForecast {
    /** 4 MiB regions, the size of Ruan et al.'s best setting. */
    static final int REGION_SHIFT = 22;
    /** The state of a slot in which nothing was written. */
    static final long QUIET = -1;
    /** A page written in half the slots of a state belongs to its working set. */
    static final double LWWS_SHARE = 0.5;
    /** A state seen in fewer slots has no working set yet. */
    static final int MIN_STATE_SLOTS = 2;
    static final int MATCH_WINDOW = 8;
    /** The longest walk: 256 slots of 25 ms, 6.4 s of sending. */
    static final int MAX_STEPS = 256;

    private static final int BLOCK_SHIFT = 21;
    private static final int BLOCK_PAGES = 1 << (BLOCK_SHIFT - 12);

    /** Per state: the slots it was the state of, and per page the slots of it the page was written in. */
    private final Map<Long, StateCounts> states = new HashMap<>();
    /** From state to state: how often the one followed the other. */
    private final Map<Long, Map<Long, Integer>> transitions = new HashMap<>();
    /** Whether each of the last states was the one the chain predicted. */
    private final ArrayDeque<Boolean> matches = new ArrayDeque<>();
    private long current = QUIET;
    private int slots;

    private static final class StateCounts {
        int slots;
        final Map<Long, short[]> pageSlots = new HashMap<>();
    }

    @Override
    public void addSlot(PageSet written) {
        long state = hottestRegion(written);
        if (slots > 0) {
            Long predicted = mostLikelyAfter(current);
            if (predicted != null) {
                matches.addLast(predicted == state);
                if (matches.size() > MATCH_WINDOW) {
                    matches.removeFirst();
                }
            }
            transitions.computeIfAbsent(current, k -> new HashMap<>()).merge(state, 1, Integer::sum);
        }
        StateCounts counts = states.computeIfAbsent(state, k -> new StateCounts());
        counts.slots++;
        for (PageRange r : written.ranges()) {
            for (long page = r.start(); page < r.end(); page += MemoryDumper.PAGE) {
                short[] block = counts.pageSlots.computeIfAbsent(page >>> BLOCK_SHIFT, k -> new short[BLOCK_PAGES]);
                int i = index(page);
                if (block[i] < Short.MAX_VALUE) {
                    block[i]++;
                }
            }
        }
        current = state;
        slots++;
    }

    @Override
    public int slots() {
        return slots;
    }

    @Override
    public PageSet rewrittenWithin(PageSet candidates, double horizonSlots) {
        PageSet expected = new PageSet();
        if (!describesTheProcess()) {
            return expected;
        }
        long state = current;
        Map<Long, Boolean> visited = new HashMap<>();
        for (int step = 0; step < Math.min(MAX_STEPS, Math.ceil(horizonSlots)); step++) {
            Long next = mostLikelyAfter(state);
            if (next == null) {
                break;
            }
            state = next;
            if (visited.put(state, true) == null) {
                expected.addAll(workingSet(state, candidates));
            }
        }
        return expected;
    }

    /** Fewer than half the recent states predicted: the process left the model. */
    private boolean describesTheProcess() {
        long hits = matches.stream().filter(m -> m).count();
        return matches.size() >= MATCH_WINDOW / 2 && hits * 2 >= matches.size();
    }

    /** The state that followed {@code state} most often; null if none ever did. */
    private Long mostLikelyAfter(long state) {
        Map<Long, Integer> next = transitions.get(state);
        if (next == null) {
            return null;
        }
        return next.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(null);
    }

    /** The pages of {@code candidates} in the local writable working set of {@code state}. */
    private PageSet workingSet(long state, PageSet candidates) {
        StateCounts counts = states.get(state);
        if (counts == null || counts.slots < MIN_STATE_SLOTS) {
            return new PageSet();
        }
        double least = LWWS_SHARE * counts.slots;
        return WriteForecast.pagesWhere(candidates, page -> {
            short[] block = counts.pageSlots.get(page >>> BLOCK_SHIFT);
            return block != null && block[index(page)] >= least;
        });
    }

    /** The region with the most pages of {@code written}, or {@link #QUIET}. */
    private static long hottestRegion(PageSet written) {
        Map<Long, Long> perRegion = new HashMap<>();
        for (PageRange r : written.ranges()) {
            for (long region = r.start() >>> REGION_SHIFT; region <= (r.end() - 1) >>> REGION_SHIFT; region++) {
                long from = Math.max(r.start(), region << REGION_SHIFT);
                long to = Math.min(r.end(), (region + 1) << REGION_SHIFT);
                perRegion.merge(region, to - from, Long::sum);
            }
        }
        return perRegion.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(QUIET);
    }

    private static int index(long address) {
        return (int) ((address / MemoryDumper.PAGE) & (BLOCK_PAGES - 1));
    }
}
