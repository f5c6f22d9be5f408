package io.pmig.checkpoint;

/**
 * How to checkpoint. {@code leaveRunning} is for a checkpoint to a directory: thaw the process
 * afterwards instead of killing it (a checkpoint to a stream hands that choice to its
 * {@link FrozenCheckpoint}). {@code progress} hears how far the image has got.
 */
public record CheckpointOptions(boolean leaveRunning, CheckpointProgress progress) {
    public CheckpointOptions(boolean leaveRunning) {
        this(leaveRunning, CheckpointProgress.NONE);
    }

    public static CheckpointOptions defaults() {
        return new CheckpointOptions(false);
    }

    public CheckpointOptions withProgress(CheckpointProgress progress) {
        return new CheckpointOptions(leaveRunning, progress);
    }
}
