package io.pmig.checkpoint;

import java.nio.file.Path;

/** What a checkpoint saved. Times in nanoseconds; {@code frozenNanos} is how long the process was stopped. */
public record CheckpointReport(
        int pid,
        Path image,
        int threads,
        int mappings,
        long pagesStored,
        long pageBytes,
        long imageBytes,
        int descriptors,
        boolean leftRunning,
        long frozenNanos,
        long totalNanos) {
}
