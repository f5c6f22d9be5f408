package io.pmig.checkpoint;

import java.nio.file.Path;

/**
 * What a checkpoint saved. Times in nanoseconds; {@code frozenNanos} is how long the process was stopped
 * (for a stream: until the image was complete), and {@code steps} where that time went. {@code image} is
 * null for a checkpoint to a stream.
 */
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
        long totalNanos,
        StepTimes steps) {
    /** A report without a breakdown of its frozen time. */
    public CheckpointReport(int pid, Path image, int threads, int mappings, long pagesStored, long pageBytes, long imageBytes,
                            int descriptors, boolean leftRunning, long frozenNanos, long totalNanos) {
        this(pid, image, threads, mappings, pagesStored, pageBytes, imageBytes, descriptors, leftRunning, frozenNanos, totalNanos,
            StepTimes.NONE);
    }
}
