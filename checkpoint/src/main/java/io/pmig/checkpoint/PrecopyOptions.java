package io.pmig.checkpoint;

import io.pmig.checkpoint.precopy.WriteForecast;

import java.util.List;

/**
 * When a pre-copy stops sending rounds and freezes the process for the last part: when the pages written during
 * the last round, with those the data filter held back from it, are at most {@code stopBelowPages} (the last part
 * will be short), when the pages written during a round stopped shrinking (the process writes as fast as rounds
 * are sent: more rounds only move the same hot pages again), or after {@code maxRounds} rounds. {@code filter}: unless
 * off, each round leaves out the pages the data filter finds or forecasts (with that model) written again while it is
 * sent ({@link io.pmig.checkpoint.precopy.DataFilter}). The defaults and why: docs/checkpoint-engine.md, "Pre-copy" and
 * "The data filter".
 */
public record PrecopyOptions(long stopBelowPages, int maxRounds, WriteForecast.Model filter) {
    /**
     * 1 MiB, 1.3-2 ms of frozen copying (5-8 µs a page) against the last part's fixed 8-18 ms; 1024 pages
     * made 8 and 128 MB/s writers' downtime 1.9-3.5x as long and saved no measurable time or data
     * (bench/precopy-threshold; docs/checkpoint-engine.md, "Pre-copy").
     */
    public static final long DEFAULT_STOP_BELOW_PAGES = 256;
    /** As Xen's pre-copy; a process that keeps shrinking its dirty set that long is rare. */
    public static final int DEFAULT_MAX_ROUNDS = 30;
    /** Each page's recent writes: bench/data-filter (docs/checkpoint-engine.md, "The data filter"). */
    public static final WriteForecast.Model DEFAULT_FILTER = WriteForecast.Model.RECENT_WRITES;

    public PrecopyOptions {
        if (filter == null) {
            throw new IllegalArgumentException("pre-copy needs a filter model (OFF for none)");
        }
        if (stopBelowPages < 0 || maxRounds < 1) {
            throw new IllegalArgumentException("pre-copy needs stopBelowPages >= 0 and maxRounds >= 1, not "
                + stopBelowPages + " and " + maxRounds);
        }
    }

    /** With the data filter as by default. */
    public PrecopyOptions(long stopBelowPages, int maxRounds) {
        this(stopBelowPages, maxRounds, DEFAULT_FILTER);
    }

    public static PrecopyOptions defaults() {
        return new PrecopyOptions(DEFAULT_STOP_BELOW_PAGES, DEFAULT_MAX_ROUNDS);
    }

    public PrecopyOptions withFilter(WriteForecast.Model model) {
        return new PrecopyOptions(stopBelowPages, maxRounds, model);
    }

    /**
     * Whether the last of these rounds left a short last part: the pages written meanwhile and those the data filter
     * held back (an upper bound of what the last part holds) are at most {@code stopBelowPages}. Rounds that stopped for
     * another reason stopped shrinking (or ran out): a post-copy's case ({@code pmig migrate --postcopy auto}).
     */
    public boolean converged(List<Round> rounds) {
        if (rounds.isEmpty()) {
            return false;
        }
        Round last = rounds.get(rounds.size() - 1);
        return last.pagesDirtied() + last.pagesHeldBack() <= stopBelowPages;
    }

    /** Whether to stop after these rounds (in order, as sent) and send the last part. */
    public boolean shouldStop(List<Round> rounds) {
        if (rounds.isEmpty()) {
            return false;
        }
        Round last = rounds.get(rounds.size() - 1);
        if (last.last() || rounds.size() >= maxRounds || converged(rounds)) {
            return true;
        }
        // with the filter, the pages it held back that were not written again make no round "shrink": the next sends them
        return rounds.size() >= 2 && last.pagesDirtied() >= rounds.get(rounds.size() - 2).pagesDirtied();
    }
}
