package io.pmig.checkpoint.ptrace;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.cgroup.FreezerPark;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Ptrace;
import io.pmig.checkpoint.nativeio.Registers;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.SyscallException;
import io.pmig.checkpoint.proc.ProcFs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;

/**
 * A process whose every thread is seized and stopped with ptrace. Thawing puts back the exact
 * registers each thread had, so the process cannot tell it was stopped (beyond the time lost).
 *
 * <p>Once its state is read, {@link #park} lets go of the threads without letting them run: the
 * process is moved into a frozen cgroup ({@link FreezerPark}) and its threads detached into the
 * freezer, or, on a host without the v2 freezer, each detached into a group stop (SIGSTOP), which
 * its parent sees. A thread that ran injected syscalls sits in a single-step trap; if the tracer
 * died there, the kernel would deliver that SIGTRAP and kill the process. Parked, nothing depends
 * on this tracer any more: if it dies the process just stays stopped, for a restarted daemon to
 * resume or kill.
 */
public final class FrozenProcess implements AutoCloseable {
    private final int pid;
    private final Map<Integer, Registers> saved = new LinkedHashMap<>();
    private boolean released;
    private boolean parked;
    /** Where the parked process is frozen; null when parked by a group stop. */
    private FreezerPark freezer;
    /** The move into the freezer park, begun by {@link #startParking} on a thread of its own; null until then. */
    private CompletableFuture<Optional<FreezerPark>> entering;
    private static final long KILL_WAIT_MILLIS = 5_000;
    private static final Executor PARKERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "pmig-park");
        t.setDaemon(true);
        return t;
    });

    private FrozenProcess(int pid) {
        this.pid = pid;
    }

    /** Seizes and stops every thread, following threads created while it does so. */
    public static FrozenProcess freeze(int pid) {
        FrozenProcess frozen = new FrozenProcess(pid);
        ProcFs proc = new ProcFs(pid);
        try {
            while (true) {
                Set<Integer> tasks = proc.tasks();
                tasks.removeAll(frozen.saved.keySet());
                if (tasks.isEmpty()) {
                    break;
                }
                for (int tid : tasks) {
                    frozen.stop(tid);
                }
            }
        } catch (RuntimeException e) {
            frozen.thaw();
            throw e;
        }
        return frozen;
    }

    /**
     * Refuses process {@code pid} if a thread of it is traced (a debugger, strace): ptrace allows one
     * tracer, and freezing needs it. Names the tracer and the remedy; touches nothing.
     */
    public static void requireUntraced(int pid) {
        for (int tid : new ProcFs(pid).tasks()) {
            refuseIfTraced(pid, tid);
        }
    }

    private static void refuseIfTraced(int pid, int tid) {
        int tracer;
        try {
            tracer = Integer.parseInt(new ProcFs(tid).status().getOrDefault("TracerPid", "0").trim());
        } catch (RuntimeException gone) {
            return; // the thread exited meanwhile
        }
        if (tracer != 0) {
            String name;
            try {
                name = "'" + new ProcFs(tracer).read("comm").trim() + "'";
            } catch (RuntimeException gone) {
                name = "gone since";
            }
            throw new RefusedException((tid == pid ? "process " + pid : "thread " + tid + " of process " + pid) + " is traced by process "
                + tracer + " (" + name + "), and pmig freezes it with ptrace, which allows one tracer: end or detach the tracer"
                + " (quit strace, 'detach' in gdb) and retry");
        }
    }

    private void stop(int tid) {
        try {
            Ptrace.seize(tid, 0);
        } catch (SyscallException e) {
            if (!new ProcFs(pid).tasks().contains(tid)) {
                return; // the thread exited meanwhile
            }
            if (e.errno() == Errno.EPERM) {
                refuseIfTraced(pid, tid); // a tracer came since the pre-check
            }
            throw e;
        }
        Ptrace.interrupt(tid);
        int status = Ptrace.waitFor(tid);
        if (!Ptrace.isStopped(status)) {
            if (tid != pid) {
                return; // a thread that ended between the seize and its stop: nothing of it left to freeze
            }
            throw new IllegalStateException("thread " + tid + " of process " + pid + " " + Ptrace.describeStatus(status) + " while being frozen");
        }
        saved.put(tid, Ptrace.getRegisters(tid));
    }

    public int pid() {
        return pid;
    }

    /** Thread ids, the main thread first. */
    public List<Integer> threads() {
        List<Integer> out = new ArrayList<>(saved.keySet());
        out.remove(Integer.valueOf(pid));
        out.add(0, pid);
        return out;
    }

    /** The registers the thread had when it was stopped. */
    public Registers registers(int tid) {
        return saved.get(tid);
    }

    /**
     * Begins moving the process into its freezer park, not frozen yet, on another thread while this one reads its
     * state: moving a process between cgroups waits for an RCU grace period (10-20 ms on a busy host), frozen time if
     * {@link #park} paid it. The process stays stopped by ptrace meanwhile, and injected syscalls still run (a frozen
     * cgroup would hold them); {@link #park} freezes the park, {@link #thaw} and {@link #kill} take the move's outcome.
     */
    public void startParking() {
        if (entering == null && !parked && !released) {
            entering = CompletableFuture.supplyAsync(() -> FreezerPark.enter(pid, false), PARKERS);
        }
    }

    /** The park {@link #startParking} entered, frozen now (empty: no v2 freezer here), or a new one; a failure of the move is thrown. */
    private Optional<FreezerPark> enterPark() {
        if (entering == null) {
            return FreezerPark.enter(pid, true);
        }
        Optional<FreezerPark> park;
        try {
            park = entering.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : e;
        }
        park.ifPresent(FreezerPark::freeze);
        return park;
    }

    /** The park {@link #startParking} entered, for a thaw or kill before {@link #park}; empty if none or if the move failed. */
    private Optional<FreezerPark> enteredBeforeParking() {
        try {
            return entering == null ? Optional.empty() : entering.join();
        } catch (CompletionException failed) {
            return Optional.empty();   // FreezerPark.enter removed what it made
        }
    }

    /** Detaches every thread into the freezer park (else a group stop), registers put back: the process stays stopped without this tracer. */
    public void park() {
        if (parked || released) {
            return;
        }
        freezer = enterPark().orElse(null);
        for (Map.Entry<Integer, Registers> e : saved.entrySet()) {
            // as for a thaw: a parked process taken back would otherwise resume in restart_syscall (see below)
            Ptrace.setRegisters(e.getKey(), withoutRestartBlock(e.getValue()));
            // into the freezer: no signal (a single-step trap's SIGTRAP is dropped); else a group stop
            Ptrace.detach(e.getKey(), freezer != null ? 0 : Linux.SIGSTOP);
        }
        // no wait for the freezer to report it frozen: a task moved into a frozen cgroup has its freeze trap set, and a
        // detached thread meets that trap before any instruction of its own (get_signal, kernel/signal.c)
        parked = true;
    }

    public void thaw() {
        if (released) {
            return;
        }
        released = true;
        if (parked) {
            if (freezer != null) {
                freezer.leave();
            } else {
                Linux.kill(pid, Linux.SIGCONT);
            }
            return;
        }
        Optional<FreezerPark> entered = enteredBeforeParking();
        RuntimeException first = null;
        for (Map.Entry<Integer, Registers> e : saved.entrySet()) {
            try {
                Ptrace.setRegisters(e.getKey(), withoutRestartBlock(e.getValue()));
                Ptrace.detach(e.getKey());
            } catch (RuntimeException ex) {
                if (first == null) {
                    first = ex;
                }
            }
        }
        try {
            entered.ifPresent(FreezerPark::leave);
        } catch (RuntimeException ex) {
            if (first == null) {
                first = ex;
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * A thread stopped in a call the kernel restarts through its restart block (nanosleep, poll with
     * a timeout) would resume in restart_syscall, whose state stays in this kernel: a checkpoint taken
     * later (the next pre-copy freeze, or a checkpoint after an abort) could not carry it, and had to refuse
     * it. Re-issuing the call itself instead, as a restore does, costs at most a longer sleep.
     */
    private static Registers withoutRestartBlock(Registers r) {
        return r.get(Registers.ORIG_RAX) >= 0 && r.get(Registers.RAX) == -Linux.ERESTART_RESTARTBLOCK
            ? r.with(Registers.RAX, -Linux.ERESTARTNOINTR) : r;
    }

    /** Ends the process; it never runs another instruction. Returns once every thread is gone. */
    public void kill() {
        if (released) {
            return;
        }
        released = true;
        if (!parked) {
            Optional<FreezerPark> entered = enteredBeforeParking();
            Ptrace.killAndCollect(pid, threads());
            entered.ifPresent(FreezerPark::removeEmpty);
            return;
        }
        int pidfd;
        try {
            pidfd = Linux.pidfdOpen(pid);
        } catch (SyscallException gone) {
            pidfd = -1;
        }
        try {
            Linux.kill(pid, Linux.SIGKILL);
            // its pidfd turns readable once it has ended (a zombie, its memory freed): polled, not spun on, as the core
            // is the dying process's to free its memory with (tens of ms for hundreds of MB)
            if (pidfd >= 0) {
                Linux.poll(pidfd, Linux.POLLIN, (int) KILL_WAIT_MILLIS);
            }
        } finally {
            if (pidfd >= 0) {
                Linux.close(pidfd);
            }
        }
        if (freezer != null) {
            freezer.removeEmpty();
        }
    }

    @Override
    public void close() {
        thaw();
    }
}
