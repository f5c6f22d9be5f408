package io.pmig.checkpoint.task;

import io.pmig.checkpoint.FailedException;
import io.pmig.nativeio.Errno;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Ptrace;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads the task state of a frozen process: what /proc and ptrace show from outside, and what
 * only the process itself can ask the kernel (signal handlers, itimers, sigaltstack, timer
 * values), through syscalls injected into its threads.
 */
public final class TaskDumper {
    static final int RLIMIT_COUNT = 16;
    private static final int PR_GET_TID_ADDRESS = 40;
    private static final int SIGKILL = 9;
    private static final int SIGSTOP = 19;

    private final FrozenProcess frozen;
    private final ProcFs proc;

    public TaskDumper(FrozenProcess frozen) {
        this.frozen = frozen;
        this.proc = new ProcFs(frozen.pid());
    }

    public List<ThreadImage> threads() {
        List<ThreadImage> out = new ArrayList<>();
        for (int tid : frozen.threads()) {
            out.add(thread(tid));
        }
        return out;
    }

    private ThreadImage thread(int tid) {
        int pid = frozen.pid();
        byte[] xstate = Ptrace.getXstate(tid);
        long sigmask = Ptrace.getSigmask(tid);
        List<byte[]> pending = Ptrace.pendingSignals(tid, false);
        Ptrace.RseqConfiguration rseq = Ptrace.rseqConfiguration(tid);
        long[] robust = Linux.robustList(tid);
        String name = new ProcFs(pid).read("task/" + tid + "/comm").trim();
        long altBase;
        int altFlags;
        long altSize;
        long clearChildTid;
        try (InjectedSyscalls in = new InjectedSyscalls(pid, tid, frozen.registers(tid))) {
            long scratch = in.scratch();
            check(in.call(Nr.SIGALTSTACK, 0, scratch), "sigaltstack", tid);
            ByteBuffer ss = ByteBuffer.wrap(in.readScratch(0, 24)).order(ByteOrder.LITTLE_ENDIAN);
            altBase = ss.getLong(0);
            altFlags = ss.getInt(8);
            altSize = ss.getLong(16);
            check(in.call(Nr.PRCTL, PR_GET_TID_ADDRESS, scratch), "prctl(PR_GET_TID_ADDRESS)", tid);
            clearChildTid = ByteBuffer.wrap(in.readScratch(0, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
        }
        return new ThreadImage(tid, name, frozen.registers(tid).words(), xstate, sigmask, pending,
            rseq.address(), rseq.size(), rseq.signature(), altBase, altFlags & ~1 /* SS_ONSTACK is a state, not a setting */,
            altSize, clearChildTid, robust[0], robust[1]);
    }

    public ProcessImage process() {
        int pid = frozen.pid();
        Map<String, String> status = proc.status();
        List<ProcessImage.SignalAction> actions = new ArrayList<>();
        long[][] itimers = new long[3][];
        List<ProcessImage.PosixTimer> timers = new ArrayList<>();
        long brk;
        try (InjectedSyscalls in = new InjectedSyscalls(pid, pid, frozen.registers(pid))) {
            long scratch = in.scratch();
            for (int sig = 1; sig <= 64; sig++) {
                if (sig == SIGKILL || sig == SIGSTOP) {
                    continue;
                }
                check(in.call(Nr.RT_SIGACTION, sig, 0, scratch, 8), "rt_sigaction(" + sig + ")", pid);
                ByteBuffer a = ByteBuffer.wrap(in.readScratch(0, 32)).order(ByteOrder.LITTLE_ENDIAN);
                actions.add(new ProcessImage.SignalAction(sig, a.getLong(0), a.getLong(8), a.getLong(16), a.getLong(24)));
            }
            for (int which = 0; which < 3; which++) {
                check(in.call(Nr.GETITIMER, which, scratch), "getitimer(" + which + ")", pid);
                ByteBuffer t = ByteBuffer.wrap(in.readScratch(0, 32)).order(ByteOrder.LITTLE_ENDIAN);
                itimers[which] = new long[] {t.getLong(0), t.getLong(8), t.getLong(16), t.getLong(24)};
            }
            for (ProcTimer t : ProcTimer.parse(proc.read("timers"))) {
                check(in.call(Nr.TIMER_GETTIME, t.id(), scratch), "timer_gettime(" + t.id() + ")", pid);
                ByteBuffer v = ByteBuffer.wrap(in.readScratch(0, 32)).order(ByteOrder.LITTLE_ENDIAN);
                timers.add(new ProcessImage.PosixTimer(t.id(), t.clock(), t.notification(), t.signal(), t.sigval(), t.threadId(),
                    v.getLong(0), v.getLong(8), v.getLong(16), v.getLong(24)));
            }
            brk = in.call(Nr.BRK, 0);
        }
        long[][] rlimits = new long[RLIMIT_COUNT][];
        for (int r = 0; r < RLIMIT_COUNT; r++) {
            rlimits[r] = Linux.getRlimit(pid, r);
        }
        String[] stat = proc.stat();
        ProcessImage.MmLayout mm = new ProcessImage.MmLayout(
            Long.parseUnsignedLong(stat[26]), Long.parseUnsignedLong(stat[27]), Long.parseUnsignedLong(stat[45]),
            Long.parseUnsignedLong(stat[46]), Long.parseUnsignedLong(stat[47]), brk, Long.parseUnsignedLong(stat[28]),
            Long.parseUnsignedLong(stat[48]), Long.parseUnsignedLong(stat[49]), Long.parseUnsignedLong(stat[50]),
            Long.parseUnsignedLong(stat[51]), auxv());
        return new ProcessImage(pid, proc.readLink("exe"), proc.readLink("cwd"), proc.readLink("root"),
            Integer.parseInt(status.get("Umask"), 8), (int) Long.parseLong(proc.read("personality").trim(), 16),
            ids(status.get("Uid")), ids(status.get("Gid")), ids(status.getOrDefault("Groups", "")), rlimits, actions,
            Ptrace.pendingSignals(pid, true), itimers, timers, mm);
    }

    private long[] auxv() {
        ByteBuffer b = ByteBuffer.wrap(proc.readBytes("auxv")).order(ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[b.remaining() / 8];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getLong();
        }
        return out;
    }

    private static int[] ids(String field) {
        if (field.isBlank()) {
            return new int[0];
        }
        String[] parts = field.trim().split("\\s+");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Integer.parseInt(parts[i]);
        }
        return out;
    }

    private static void check(long result, String call, int tid) {
        if (Errno.isError(result)) {
            throw new FailedException(call + " inside thread " + tid + " failed: " + Errno.describe((int) -result));
        }
    }
}
