package io.pmig.checkpoint;

/**
 * What a restore rebuilt; {@code pid} is the restored process, detached from the caller. {@code steps}: where
 * the time went up to the process complete and stopped (for a pre-copy: from the last part on).
 */
public record RestoreReport(
        int pid,
        int threads,
        int mappings,
        long pagesRestored,
        long pageBytes,
        int descriptors,
        long totalNanos,
        StepTimes steps) {
    /** A report without a breakdown of its time. */
    public RestoreReport(int pid, int threads, int mappings, long pagesRestored, long pageBytes, int descriptors, long totalNanos) {
        this(pid, threads, mappings, pagesRestored, pageBytes, descriptors, totalNanos, StepTimes.NONE);
    }
}
