package io.pmig.checkpoint;

/** How to checkpoint: {@code leaveRunning} thaws the process afterwards instead of killing it. */
public record CheckpointOptions(boolean leaveRunning) {
    public static CheckpointOptions defaults() {
        return new CheckpointOptions(false);
    }
}
