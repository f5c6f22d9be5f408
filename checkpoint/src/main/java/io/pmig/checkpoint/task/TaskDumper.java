package io.pmig.checkpoint.task;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.nativeio.Errno;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Prctl;
import io.pmig.checkpoint.nativeio.Ptrace;
import io.pmig.checkpoint.cgroup.ServiceCgroup;
import io.pmig.checkpoint.nativeio.Registers;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.tree.PidNamespaces;
import io.pmig.checkpoint.tree.TimeNamespaces;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

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
    /** Bytes of a call's answer slot in the scratch page: a kernel sigaction, itimerval and itimerspec fit. */
    private static final int ANSWER = 32;
    /** Calls a batch can have: the scratch page holds each one's answer slot and result. */
    private static final int ANSWERS_PER_BATCH = InjectedSyscalls.SCRATCH_SIZE / (ANSWER + 8);

    private final FrozenProcess frozen;
    private final ProcFs proc;
    /** Each thread's answers to its own calls, by tid: the main thread's from the process's batch. */
    private final Map<Integer, ThreadCalls> threadCalls = new HashMap<>();

    /** What a thread is asked by system calls of its own: its sigaltstack and clear-child-tid address. */
    private record ThreadCalls(long altBase, int altFlags, long altSize, long clearChildTid) {
        static ThreadCalls of(ByteBuffer altstack, int at, long clearChildTid) {
            return new ThreadCalls(altstack.getLong(at), altstack.getInt(at + 8), altstack.getLong(at + 16), clearChildTid);
        }
    }

    public TaskDumper(FrozenProcess frozen) {
        this.frozen = frozen;
        this.proc = new ProcFs(frozen.pid());
    }

    /** The process's state and its threads'. */
    public record Task(ProcessImage process, List<ThreadImage> threads) {
    }

    /**
     * The process's state and each thread's. The calls the process and its main thread are asked run in one batch in
     * that thread; each other thread's in the area that batch mapped, one stop and go each. The threads' own state is
     * read once every call is done and every thread has its signal mask back.
     */
    public Task dump() {
        int pid = frozen.pid();
        Map<String, String> status = proc.status();
        ProcessImage process;
        try (InjectedSyscalls main = new InjectedSyscalls(pid, pid, frozen.registers(pid), status)) {
            process = process(main, status);
            for (int tid : frozen.threads()) {
                if (tid != pid) {
                    threadCalls.put(tid, threadCalls(tid, main));
                }
            }
        }
        List<ThreadImage> threads = new ArrayList<>();
        for (int tid : frozen.threads()) {
            // a thread lives in its process's PID namespace: outside one of its own, its id there is its tid
            threads.add(thread(tid, process.ownPidNamespace() ? PidNamespaces.innerId(tid) : tid));
        }
        return new Task(process, threads);
    }

    private ThreadImage thread(int tid, int innerTid) {
        int pid = frozen.pid();
        if (frozen.registers(tid).get(Registers.ORIG_RAX) == Nr.RESTART_SYSCALL) {
            // a signal interrupted a poll, nanosleep or futex wait with a timeout, and the kernel goes on with it from
            // state it keeps for the thread (its restart block), which no other process can be given
            throw new RefusedException("thread " + tid + " of process " + pid + " is inside restart_syscall: a call the kernel "
                + "resumes from state only this kernel holds (a poll, sleep or futex wait interrupted by a signal), which "
                + "cannot be restored; try again once the call has returned");
        }
        byte[] xstate = Ptrace.getXstate(tid);
        long sigmask = Ptrace.getSigmask(tid);
        List<byte[]> pending = Ptrace.pendingSignals(tid, false);
        Ptrace.RseqConfiguration rseq = Ptrace.rseqConfiguration(tid);
        long[] robust = Linux.robustList(tid);
        String name = new ProcFs(pid).read("task/" + tid + "/comm").trim();
        ThreadCalls calls = threadCalls.get(tid);
        return new ThreadImage(innerTid, name, frozen.registers(tid).words(), xstate, sigmask, pending,
            rseq.address(), rseq.size(), rseq.signature(), calls.altBase(), calls.altFlags() & ~1 /* SS_ONSTACK is a state, not a setting */,
            calls.altSize(), calls.clearChildTid(), robust[0], robust[1]);
    }

    private ThreadCalls threadCalls(int tid, InjectedSyscalls main) {
        try (InjectedSyscalls in = main.inThread(tid, frozen.registers(tid))) {
            long scratch = in.scratch();
            long[] results = in.callAll(List.of(new InjectedSyscalls.Call(Nr.SIGALTSTACK, 0, scratch),
                new InjectedSyscalls.Call(Nr.PRCTL, PR_GET_TID_ADDRESS, scratch + ANSWER)));
            check(results[0], "sigaltstack", tid);
            check(results[1], "prctl(PR_GET_TID_ADDRESS)", tid);
            ByteBuffer answers = answers(in, 2);
            return ThreadCalls.of(answers, 0, answers.getLong(ANSWER));
        }
    }

    private ProcessImage process(InjectedSyscalls in, Map<String, String> status) {
        int pid = frozen.pid();
        List<ProcessImage.SignalAction> actions = new ArrayList<>();
        long[][] itimers = new long[3][];
        List<ProcessImage.PosixTimer> timers = new ArrayList<>();
        long brk;
        int dumpable;
        int membarrier;
        boolean childSubreaper;
        // the calls in batches, call i of a batch answering in slot i of the scratch page: a stop and go
        // per call was most of the task state's share of a pre-copy's downtime
        long scratch = in.scratch();
        List<Integer> signals = IntStream.rangeClosed(1, 64).filter(sig -> sig != SIGKILL && sig != SIGSTOP).boxed().toList();
        List<InjectedSyscalls.Call> calls = new ArrayList<>();
        for (int sig : signals) {
            calls.add(new InjectedSyscalls.Call(Nr.RT_SIGACTION, sig, 0, scratch + (long) ANSWER * calls.size(), 8));
        }
        for (int which = 0; which < 3; which++) {
            calls.add(new InjectedSyscalls.Call(Nr.GETITIMER, which, scratch + (long) ANSWER * calls.size()));
        }
        int subreaperAt = calls.size();
        calls.add(new InjectedSyscalls.Call(Nr.PRCTL, Prctl.PR_GET_CHILD_SUBREAPER, scratch + (long) ANSWER * subreaperAt, 0, 0, 0));
        calls.add(new InjectedSyscalls.Call(Nr.PRCTL, Prctl.PR_GET_DUMPABLE, 0, 0, 0, 0));
        int membarrierAt = calls.size();
        calls.addAll(Membarrier.queries());
        // the main thread's own calls too, in the same run: the batch runs in that thread
        int threadCallsAt = calls.size();
        calls.add(new InjectedSyscalls.Call(Nr.SIGALTSTACK, 0, scratch + (long) ANSWER * threadCallsAt));
        calls.add(new InjectedSyscalls.Call(Nr.PRCTL, PR_GET_TID_ADDRESS, scratch + (long) ANSWER * (threadCallsAt + 1)));
        calls.add(new InjectedSyscalls.Call(Nr.BRK, 0));
        long[] results = in.callAll(calls);
        ByteBuffer answers = answers(in, calls.size());
        for (int i = 0; i < signals.size(); i++) {
            check(results[i], "rt_sigaction(" + signals.get(i) + ")", pid);
            long[] a = answer(answers, i);
            actions.add(new ProcessImage.SignalAction(signals.get(i), a[0], a[1], a[2], a[3]));
        }
        for (int which = 0; which < 3; which++) {
            check(results[signals.size() + which], "getitimer(" + which + ")", pid);
            itimers[which] = answer(answers, signals.size() + which);
        }
        brk = results[calls.size() - 1];
        check(results[membarrierAt - 1], "prctl(PR_GET_DUMPABLE)", pid);
        dumpable = (int) results[membarrierAt - 1];
        check(results[subreaperAt], "prctl(PR_GET_CHILD_SUBREAPER)", pid);
        childSubreaper = answers.getInt(ANSWER * subreaperAt) != 0;
        membarrier = Membarrier.registrations(pid, results, membarrierAt);
        check(results[threadCallsAt], "sigaltstack", pid);
        check(results[threadCallsAt + 1], "prctl(PR_GET_TID_ADDRESS)", pid);
        threadCalls.put(pid, ThreadCalls.of(answers, ANSWER * threadCallsAt, answers.getLong(ANSWER * (threadCallsAt + 1))));

        List<ProcTimer> procTimers = ProcTimer.parse(proc.read("timers"));
        for (int from = 0; from < procTimers.size(); from += ANSWERS_PER_BATCH) {
            List<ProcTimer> batch = procTimers.subList(from, Math.min(procTimers.size(), from + ANSWERS_PER_BATCH));
            List<InjectedSyscalls.Call> gets = new ArrayList<>();
            for (ProcTimer t : batch) {
                gets.add(new InjectedSyscalls.Call(Nr.TIMER_GETTIME, t.id(), scratch + (long) ANSWER * gets.size()));
            }
            long[] got = in.callAll(gets);
            ByteBuffer values = answers(in, gets.size());
            for (int k = 0; k < batch.size(); k++) {
                ProcTimer t = batch.get(k);
                check(got[k], "timer_gettime(" + t.id() + ")", pid);
                long[] v = answer(values, k);
                timers.add(new ProcessImage.PosixTimer(t.id(), t.clock(), t.notification(), t.signal(), t.sigval(), t.threadId(),
                    v[0], v[1], v[2], v[3]));
            }
        }
        long[][] rlimits = proc.limits();
        if (rlimits.length != RLIMIT_COUNT) {
            throw new FailedException("/proc/" + pid + "/limits lists " + rlimits.length + " limits, not the " + RLIMIT_COUNT
                + " this engine knows (linux/resource.h)");
        }
        String[] stat = proc.stat();
        ProcessImage.MmLayout mm = new ProcessImage.MmLayout(
            Long.parseUnsignedLong(stat[26]), Long.parseUnsignedLong(stat[27]), Long.parseUnsignedLong(stat[45]),
            Long.parseUnsignedLong(stat[46]), Long.parseUnsignedLong(stat[47]), brk, Long.parseUnsignedLong(stat[28]),
            Long.parseUnsignedLong(stat[48]), Long.parseUnsignedLong(stat[49]), Long.parseUnsignedLong(stat[50]),
            Long.parseUnsignedLong(stat[51]), auxv());
        String cwd = proc.readLink("cwd");
        String root = proc.readLink("root");
        for (String[] dir : new String[][] {{"working directory", cwd}, {"root directory", root}}) {
            if (dir[1].endsWith(" (deleted)")) {
                throw new RefusedException("process " + pid + ": its " + dir[0] + " " + dir[1] + " was deleted; a restore "
                    + "re-enters it by path, so it cannot be restored; let the service change to a directory that exists");
            }
        }
        return new ProcessImage(PidNamespaces.innerId(pid, status), proc.readLink("exe"), cwd, root,
            Integer.parseInt(status.get("Umask"), 8), (int) Long.parseLong(proc.read("personality").trim(), 16),
            ids(status.get("Uid")), ids(status.get("Gid")), ids(status.getOrDefault("Groups", "")),
            status.getOrDefault("NoNewPrivs", "0").equals("1"), ProcessImage.Capabilities.of(status), rlimits, actions,
            Ptrace.pendingSignals(pid, true), itimers, timers, mm, Integer.parseInt(proc.read("oom_score_adj").trim()),
            "0".equals(status.get("THP_enabled")), dumpable, membarrier, PidNamespaces.inOwnNamespace(pid, status),
            ServiceCgroup.limitsOf(pid), UserNamespace.of(pid), TimeNamespaces.clocksOf(pid), childSubreaper);
    }

    /** The answer slots of a batch of {@code calls} calls. */
    private static ByteBuffer answers(InjectedSyscalls in, int calls) {
        return ByteBuffer.wrap(in.readScratch(0, ANSWER * calls)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The four words a call left in its slot (a kernel struct sigaction, an itimerval, an itimerspec). */
    private static long[] answer(ByteBuffer answers, int slot) {
        int at = ANSWER * slot;
        return new long[] {answers.getLong(at), answers.getLong(at + 8), answers.getLong(at + 16), answers.getLong(at + 24)};
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
