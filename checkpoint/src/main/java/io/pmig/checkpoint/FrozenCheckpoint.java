package io.pmig.checkpoint;

import io.pmig.checkpoint.fd.FdDumper;
import io.pmig.checkpoint.ipc.SysvObjects;
import io.pmig.checkpoint.tree.FrozenTree;

import java.util.List;

/**
 * A process (with its descendants, a tree) whose image has been written completely, kept frozen until the caller decides:
 * {@link #commit()} kills it (its TCP connections are in repair mode, so they close without a
 * packet: the copy restored elsewhere owns them now), {@link #abort()} takes its TCP connections
 * out of repair mode and lets it run on as if nothing happened. Closing without either aborts, so a
 * service is never lost by mistake.
 *
 * <p>Must be used on the thread that made the checkpoint: it is the process's ptrace tracer, and
 * the kernel takes ptrace requests from the tracing thread only.
 */
public final class FrozenCheckpoint implements AutoCloseable {
    private final FrozenTree frozen;
    /** The descriptors of each member, in the tree's order. */
    private final List<FdDumper.Result> fds;
    private final CheckpointReport report;
    /** The System V objects saved with it: they go with the original when it is killed. */
    private final SysvObjects sysv;
    /** Runs once the process is killed or thawed: what must not cost frozen time (ending a pre-copy's write tracking). */
    private Runnable afterDecision = () -> { };
    private boolean decided;

    FrozenCheckpoint(FrozenTree frozen, List<FdDumper.Result> fds, CheckpointReport report, SysvObjects sysv) {
        this.frozen = frozen;
        this.fds = fds;
        this.report = report;
        this.sysv = sysv;
    }

    /** The root of the tree: the process the checkpoint was asked for. */
    public int pid() {
        return frozen.rootPid();
    }

    /** What the image holds; {@code frozenNanos} runs from the freeze to the image's last byte. */
    public CheckpointReport report() {
        return report;
    }

    /** Kills the frozen original, every process of it (none runs another instruction), and removes its System V objects. */
    public void commit() {
        requireUndecided("commit");
        decided = true;
        try {
            frozen.kill();
            sysv.removeOriginals();
        } finally {
            afterDecision.run();
        }
    }

    /** Lets the original run on: its TCP connections leave repair mode, then every thread is thawed. */
    public void abort() {
        requireUndecided("abort");
        decided = true;
        try {
            thaw(frozen, fds);
        } finally {
            afterDecision.run();
        }
    }

    /** {@code action} runs after {@link #commit()} or {@link #abort()}, whichever comes, even if it fails. */
    void afterDecision(Runnable action) {
        afterDecision = action;
    }

    @Override
    public void close() {
        if (!decided) {
            abort();
        }
    }

    /** Lets a frozen tree run on; its TCP sockets leave repair mode first. */
    static void thaw(FrozenTree frozen, List<FdDumper.Result> fds) {
        if (fds != null) {
            List<Integer> pids = frozen.livePids();
            for (int i = 0; i < fds.size(); i++) {
                FdDumper.leaveRepair(pids.get(i), fds.get(i).socketsInRepair());
            }
        }
        frozen.thaw();
    }

    private void requireUndecided(String what) {
        if (decided) {
            throw new IllegalStateException("cannot " + what + " the checkpoint of process " + pid()
                + ": it was already committed or aborted");
        }
    }
}
