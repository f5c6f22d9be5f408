package io.pmig.checkpoint;

import java.nio.file.Path;

/**
 * Checkpoints one process (all its threads) into an image directory.
 * Must be called on one thread from start to end: ptrace requests come from the thread that attached.
 */
public final class CheckpointEngine {
    public CheckpointReport checkpoint(int pid, Path dir, CheckpointOptions options) {
        throw new UnsupportedOperationException("not built yet");
    }
}
