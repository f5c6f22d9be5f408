package io.pmig.checkpoint;

/** What a restore rebuilt; {@code pid} is the restored process, detached from the caller. */
public record RestoreReport(
        int pid,
        int threads,
        int mappings,
        long pagesRestored,
        long pageBytes,
        int descriptors,
        long totalNanos) {
}
