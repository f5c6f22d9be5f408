package io.pmig.checkpoint;

import io.pmig.checkpoint.fd.RestoreContext;
import io.pmig.checkpoint.fd.TcpSockets;
import io.pmig.checkpoint.restore.Puppet;

import java.util.List;

/**
 * A restored process, complete and stopped, its TCP connections live: {@link #resume()} lets it run,
 * {@link #kill()} discards it — its TCP connections go back into repair mode first, so the peers see
 * nothing and the original can take them back. Closing without either kills it.
 *
 * <p>Must be used on the thread that restored it: it is the process's ptrace tracer.
 */
public final class RestoredProcess implements AutoCloseable {
    private final Puppet puppet;
    private final RestoreContext context;
    private RestoreReport report;
    private boolean decided;

    RestoredProcess(Puppet puppet, RestoreContext context) {
        this.puppet = puppet;
        this.context = context;
    }

    /** The restored process as this host sees it (differs from the image's with a new PID namespace). */
    public int pid() {
        return puppet.pid();
    }

    /** Whether it runs in a PID namespace of its own (asked for, made again for a process that had one, or its ids were taken). */
    public boolean inNewPidNamespace() {
        return puppet.inNewPidNamespace();
    }

    public RestoreReport report() {
        return report;
    }

    Puppet puppet() {
        return puppet;
    }

    /** The engine's descriptors of the process's files, held until it is resumed or killed. */
    RestoreContext context() {
        return context;
    }

    void completed(RestoreReport report) {
        this.report = report;
    }

    /** The hook, then every connection out of repair mode (window probe, never-sent tail). */
    void goLive(BeforeSocketsGoLive hook) throws Exception {
        List<TcpSockets.Repaired> repaired = context.repairedConnections();
        hook.run(puppet.pid(), repaired.stream().map(TcpSockets.Repaired::connection).toList());
        for (TcpSockets.Repaired c : repaired) {
            c.goLive();
        }
    }

    /** Lets every thread run from its saved state; the process is on its own from here. */
    public void resume() {
        requireUndecided("resume");
        decided = true;
        try {
            puppet.release();
        } finally {
            context.close();
        }
    }

    /** Kills the process before it ran a single instruction of its own; no peer hears of it. */
    public void kill() {
        requireUndecided("kill");
        decided = true;
        try {
            for (TcpSockets.Repaired c : context.repairedConnections()) {
                try {
                    c.silence();
                } catch (RuntimeException e) {
                    // a socket that cannot go back into repair closes normally; the kill goes on
                }
            }
            puppet.close();
        } finally {
            context.close();
        }
    }

    @Override
    public void close() {
        if (!decided) {
            kill();
        }
    }

    private void requireUndecided(String what) {
        if (decided) {
            throw new IllegalStateException("cannot " + what + " restored process " + puppet.pid()
                + ": it was already resumed or killed");
        }
    }
}
