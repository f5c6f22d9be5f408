package io.pmig.checkpoint;

/**
 * A process that passed a checkpoint's pre-flight ({@link CheckpointEngine#preflighted}): one pmig may take, sharing
 * nothing with a process that would stay behind, holding only what a restore recreates. Its checkpoint, frozen, comes
 * later ({@link CheckpointEngine#checkpoint(CheckedProcess, java.nio.channels.WritableByteChannel, CheckpointOptions)})
 * without checking all that again; only the engine makes one.
 */
public final class CheckedProcess {
    private final int pid;

    CheckedProcess(int pid) {
        this.pid = pid;
    }

    public int pid() {
        return pid;
    }
}
