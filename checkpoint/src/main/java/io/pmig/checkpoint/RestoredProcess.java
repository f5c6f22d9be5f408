package io.pmig.checkpoint;

import io.pmig.checkpoint.fd.RestoreContext;
import io.pmig.checkpoint.fd.TcpSockets;
import io.pmig.checkpoint.ipc.SysvObjects;
import io.pmig.checkpoint.memory.SharedAnonymousMemory;
import io.pmig.checkpoint.restore.Puppet;

import java.util.ArrayList;
import java.util.List;

/**
 * A restored process (or process tree: the root and its descendants), complete and stopped, its TCP connections live: {@link #resume()} lets it run,
 * {@link #kill()} discards it — its TCP connections go back into repair mode first, so the peers see
 * nothing and the original can take them back. Closing without either kills it.
 *
 * <p>Must be used on the thread that restored it: it is the process's ptrace tracer.
 */
public final class RestoredProcess implements AutoCloseable {
    private final Puppet puppet;
    /** The other members of a tree, each parent before its children. */
    private final List<Puppet> descendants = new ArrayList<>();
    private final RestoreContext context;
    private final SharedAnonymousMemory sharedMemory = new SharedAnonymousMemory();
    private RestoreReport report;
    private boolean decided;
    /** The System V objects made for it: removed if it is killed. */
    private SysvObjects.Recreated sysvObjects;

    RestoredProcess(Puppet puppet, RestoreContext context) {
        this.puppet = puppet;
        this.context = context;
    }

    /** The restored process (the root of a tree) as this host sees it (differs from the image's with a new PID namespace). */
    public int pid() {
        return puppet.pid();
    }

    /** Every restored process as this host sees it, the root first and each parent before its children. */
    public List<Integer> pids() {
        List<Integer> out = new ArrayList<>(List.of(puppet.pid()));
        descendants.forEach(d -> out.add(d.pid()));
        return out;
    }

    /** A descendant of the root, created for a tree: it is resumed or killed with the rest. */
    void adopt(Puppet descendant) {
        descendants.add(descendant);
    }

    /** A descendant killed before the restore ended (its original ended during a pre-copy): no longer one of the tree. */
    void disown(Puppet descendant) {
        descendants.remove(descendant);
    }

    /** The shared anonymous memory the processes of a tree map together. */
    SharedAnonymousMemory sharedMemory() {
        return sharedMemory;
    }

    void sysvObjects(SysvObjects.Recreated made) {
        sysvObjects = made;
    }

    SysvObjects.Recreated sysvObjects() {
        return sysvObjects;
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

    /** The hook (whoever held the service's packets replays them), every connection still in repair mode. */
    void beforeGoLive(BeforeSocketsGoLive hook) throws Exception {
        hook.run(puppet.pid(), context.repairedConnections().stream().map(TcpSockets.Repaired::connection).toList());
    }

    /** Takes every rebuilt TCP connection out of repair mode (window probe, never-sent tail), once {@link #beforeGoLive} ran. */
    void goLive() {
        for (TcpSockets.Repaired c : context.repairedConnections()) {
            c.goLive();
        }
    }

    /** Lets every thread run from its saved state; the process is on its own from here. */
    public void resume() {
        requireUndecided("resume");
        decided = true;
        try {
            descendants.forEach(Puppet::release);
            puppet.release();
        } finally {
            context.close();
            sharedMemory.close();
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
            for (int i = descendants.size() - 1; i >= 0; i--) {
                descendants.get(i).close();
            }
            puppet.close();
            if (sysvObjects != null) {
                sysvObjects.removeAll();
            }
        } finally {
            context.close();
            sharedMemory.close();
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
