package io.pmig.checkpoint;

import java.util.List;

/**
 * A process (and its descendants: the tree a checkpoint takes whole) that passed a checkpoint's pre-flight ({@link CheckpointEngine#preflighted}): one pmig may take, sharing
 * nothing with a process that would stay behind, holding only what a restore recreates. Its checkpoint, frozen, comes
 * later ({@link CheckpointEngine#checkpoint(CheckedProcess, java.nio.channels.WritableByteChannel, CheckpointOptions)})
 * without checking all that again; only the engine makes one.
 */
public final class CheckedProcess {
    private final int pid;
    private final List<Integer> tree;

    CheckedProcess(int pid, List<Integer> tree) {
        this.pid = pid;
        this.tree = List.copyOf(tree);
    }

    /** The root of the tree. */
    public int pid() {
        return pid;
    }

    /** Every process the pre-flight checked, the root first and each parent before its children. */
    public List<Integer> tree() {
        return tree;
    }
}
