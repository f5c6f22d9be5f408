package io.pmig.checkpoint;

import java.nio.file.Path;
import java.util.List;

/**
 * What a checkpoint saved. Times in nanoseconds; {@code frozenNanos} is how long the process was stopped
 * (for a stream: until the image was complete), and {@code steps} where that time went; {@code totalSteps} where the
 * whole checkpoint's went, the frozen part one step of it (none for a checkpoint to a stream). {@code image} is
 * null for a checkpoint to a stream. {@code processes}: the pids of every process saved, the root ({@code pid}) first
 * and each parent before its children; the counts are their sums.
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
        StepTimes steps,
        List<Integer> processes,
        StepTimes totalSteps) {
    public CheckpointReport {
        processes = processes == null ? List.of(pid) : List.copyOf(processes);
        totalSteps = totalSteps == null ? StepTimes.NONE : totalSteps;
    }

    /** A report of a single process without a breakdown of its frozen time. */
    public CheckpointReport(int pid, Path image, int threads, int mappings, long pagesStored, long pageBytes, long imageBytes,
                            int descriptors, boolean leftRunning, long frozenNanos, long totalNanos) {
        this(pid, image, threads, mappings, pagesStored, pageBytes, imageBytes, descriptors, leftRunning, frozenNanos, totalNanos,
            StepTimes.NONE, List.of(pid), StepTimes.NONE);
    }
}
