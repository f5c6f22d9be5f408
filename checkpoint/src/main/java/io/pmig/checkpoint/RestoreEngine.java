package io.pmig.checkpoint;

import java.nio.file.Path;

/**
 * Restores a process from an image directory with its original PID and TIDs, detached from the caller.
 * Must be called on one thread from start to end: ptrace requests come from the thread that attached.
 */
public final class RestoreEngine {
    public RestoreReport restore(Path dir, RestoreOptions options) {
        throw new UnsupportedOperationException("not built yet");
    }
}
