package io.pmig.checkpoint.ptrace;

import io.pmig.checkpoint.nativeio.Ptrace;
import io.pmig.checkpoint.nativeio.Registers;
import io.pmig.nativeio.SyscallException;
import io.pmig.checkpoint.proc.ProcFs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A process whose every thread is seized and stopped with ptrace. Thawing puts back the exact
 * registers each thread had, so the process cannot tell it was stopped (beyond the time lost).
 */
public final class FrozenProcess implements AutoCloseable {
    private final int pid;
    private final Map<Integer, Registers> saved = new LinkedHashMap<>();
    private boolean released;

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

    private void stop(int tid) {
        try {
            Ptrace.seize(tid, 0);
        } catch (SyscallException e) {
            if (!new ProcFs(pid).tasks().contains(tid)) {
                return; // the thread exited meanwhile
            }
            throw e;
        }
        Ptrace.interrupt(tid);
        int status = Ptrace.waitFor(tid);
        if (!Ptrace.isStopped(status)) {
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

    /** Puts every thread's registers back and lets the process run on. */
    public void thaw() {
        if (released) {
            return;
        }
        released = true;
        RuntimeException first = null;
        for (Map.Entry<Integer, Registers> e : saved.entrySet()) {
            try {
                Ptrace.setRegisters(e.getKey(), e.getValue());
                Ptrace.detach(e.getKey());
            } catch (RuntimeException ex) {
                if (first == null) {
                    first = ex;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Ends the process; it never runs another instruction. Returns once every thread is gone. */
    public void kill() {
        if (released) {
            return;
        }
        released = true;
        Ptrace.killAndCollect(pid, threads());
    }

    @Override
    public void close() {
        thaw();
    }
}
