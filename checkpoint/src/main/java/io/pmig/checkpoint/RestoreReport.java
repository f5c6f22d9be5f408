package io.pmig.checkpoint;

import java.util.List;

/**
 * What a restore rebuilt; {@code pid} is the restored process, detached from the caller. {@code steps}: where
 * the time went up to the process complete and stopped (for a pre-copy: from the last part on). {@code processes}: the
 * host pids of every process restored, {@code pid} (the root) first and each parent before its children; the counts
 * are their sums.
 */
public record RestoreReport(
        int pid,
        int threads,
        int mappings,
        long pagesRestored,
        long pageBytes,
        int descriptors,
        long totalNanos,
        StepTimes steps,
        List<Integer> processes) {
    public RestoreReport {
        processes = processes == null ? List.of(pid) : List.copyOf(processes);
    }

    /** A report of a single process without a breakdown of its time. */
    public RestoreReport(int pid, int threads, int mappings, long pagesRestored, long pageBytes, int descriptors, long totalNanos) {
        this(pid, threads, mappings, pagesRestored, pageBytes, descriptors, totalNanos, StepTimes.NONE, List.of(pid));
    }
}
