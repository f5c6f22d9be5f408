package io.pmig.checkpoint.task;

import io.pmig.checkpoint.FailedException;
import io.pmig.nativeio.Errno;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Prctl;
import io.pmig.checkpoint.nativeio.Ptrace;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;
import io.pmig.checkpoint.nativeio.Registers;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

/** Gives the restored process its task state, in the order the kernel allows it. */
public final class TaskRestorer {
    private static final int SIGTRAP = 5;
    private final Puppet puppet;
    private final ProcessImage process;

    public TaskRestorer(Puppet puppet, ProcessImage process) {
        this.puppet = puppet;
        this.process = process;
    }

    /** Blocks every signal in the restored process until the threads get their saved masks. */
    public void blockSignals() {
        puppet.blockAllSignals();
    }

    /** mm layout and exe link; must run before any descriptor exists (the exe is opened at fd 0). */
    public void restoreMmLayout() {
        RestoreProgram open = puppet.newProgram();
        int exe = open.call("open the executable " + process.exe(), Nr.OPEN, open.cString(process.exe()), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        puppet.run(open);
        long exeFd = open.result(exe);

        ProcessImage.MmLayout mm = process.mm();
        RestoreProgram p = puppet.newProgram();
        ByteBuffer auxv = ByteBuffer.allocate(mm.auxv().length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : mm.auxv()) {
            auxv.putLong(v);
        }
        long auxvAt = p.data(auxv.array());
        ByteBuffer map = ByteBuffer.allocate(Prctl.PR_SET_MM_MAP_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        map.putLong(mm.startCode()).putLong(mm.endCode()).putLong(mm.startData()).putLong(mm.endData())
            .putLong(mm.startBrk()).putLong(mm.brk()).putLong(mm.startStack()).putLong(mm.argStart()).putLong(mm.argEnd())
            .putLong(mm.envStart()).putLong(mm.envEnd()).putLong(auxvAt).putInt(mm.auxv().length * 8).putInt((int) exeFd);
        p.call("prctl(PR_SET_MM_MAP)", Nr.PRCTL, Prctl.PR_SET_MM, Prctl.PR_SET_MM_MAP, p.data(map.array()), Prctl.PR_SET_MM_MAP_SIZE, 0);
        p.call("close the executable", Nr.CLOSE, exeFd);
        puppet.run(p);
    }

    /**
     * Everything process-wide but credentials and POSIX timers: cwd, root, umask, personality, handlers, itimers,
     * queued signals, oom_score_adj, THP disabled, membarrier registrations.
     */
    public void restoreProcessState() {
        writeOomScoreAdj();
        RestoreProgram p = puppet.newProgram();
        if (process.thpDisabled()) {
            p.call("prctl(PR_SET_THP_DISABLE)", Nr.PRCTL, Prctl.PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
        if (process.childSubreaper()) {
            p.call("prctl(PR_SET_CHILD_SUBREAPER)", Nr.PRCTL, Prctl.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        Membarrier.register(process.membarrierRegistrations(), p);
        p.call("chdir " + process.cwd(), Nr.CHDIR, p.cString(process.cwd()));
        if (!process.root().equals("/")) {
            p.call("chroot " + process.root(), Nr.CHROOT, p.cString(process.root()));
        }
        p.call("umask", Nr.UMASK, process.umask());
        p.call("personality", Nr.PERSONALITY, process.personality());
        for (ProcessImage.SignalAction a : process.signalActions()) {
            if (a.signal() != SIGTRAP) {    // the later traps of the restore would reset it: queueTraps
                p.call("rt_sigaction(" + a.signal() + ")", Nr.RT_SIGACTION, a.signal(), p.data(sigaction(a)), 0, 8);
            }
        }
        for (int which = 0; which < 3; which++) {
            long[] t = process.itimers()[which];
            boolean armed = t[2] != 0 || t[3] != 0;
            boolean periodic = t[0] != 0 || t[1] != 0;
            if (armed || periodic) {
                // a periodic itimer reads 0 between its expiry and the dequeue of its signal (which
                // re-arms it); that signal is among the pending ones, so arm the next period here
                long[] v = armed ? t : new long[] {t[0], t[1], t[0], t[1]};
                p.call("setitimer(" + which + ")", Nr.SETITIMER, which, p.data(longs(v)), 0);
            }
        }
        for (byte[] info : process.pendingSignals()) {
            int signo = signalOf(info);
            if (signo != SIGTRAP) {         // the later traps of the restore would take it: queueTraps
                p.call("queue pending signal " + signo, Nr.RT_SIGQUEUEINFO, process.pid(), signo, p.data(info));
            }
        }
        puppet.run(p);
    }

    /** A struct kernel_sigaction (arch/x86: handler, flags, restorer, mask). */
    private static byte[] sigaction(ProcessImage.SignalAction a) {
        return ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN)
            .putLong(a.handler()).putLong(a.flags()).putLong(a.restorer()).putLong(a.mask()).array();
    }

    private static int signalOf(byte[] siginfo) {
        return ByteBuffer.wrap(siginfo).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    }

    private void writeOomScoreAdj() {
        java.nio.file.Path file = java.nio.file.Path.of("/proc", Integer.toString(puppet.pid()), "oom_score_adj");
        try {
            java.nio.file.Files.writeString(file, Integer.toString(process.oomScoreAdj()));
        } catch (java.io.IOException e) {
            throw new FailedException("cannot set oom_score_adj of process " + process.pid() + " to " + process.oomScoreAdj()
                + " (" + file + "): " + e.getMessage(), e);
        }
    }

    private void restorePosixTimers(RestoreProgram p) {
        if (process.posixTimers().isEmpty()) {
            return;
        }
        // Linux 6.16+ lets timer_create take the id to use; older kernels hand out ids in order.
        boolean chooseIds = !Errno.isError(probe(Prctl.PR_TIMER_CREATE_RESTORE_IDS, 2));
        if (!chooseIds) {
            throw new FailedException("process " + process.pid() + " has POSIX timers, and this kernel cannot re-create "
                + "them with their ids (needs Linux 6.16+, Prctl.PR_TIMER_CREATE_RESTORE_IDS)");
        }
        p.call("prctl(PR_TIMER_CREATE_RESTORE_IDS, on)", Nr.PRCTL, Prctl.PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0);
        for (ProcessImage.PosixTimer t : process.posixTimers()) {
            // struct sigevent: sigval, signo, notify, union { tid, ... } padded to 64 bytes
            ByteBuffer ev = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            ev.putLong(0, t.sigval()).putInt(8, t.signal()).putInt(12, t.notification()).putInt(16, t.threadId());
            long idAt = p.data(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0, t.id()).array());
            p.call("timer_create(id " + t.id() + ")", Nr.TIMER_CREATE, t.clock(), p.data(ev.array()), idAt);
            if (t.valueSec() != 0 || t.valueNsec() != 0) {
                long spec = p.data(longs(new long[] {t.intervalSec(), t.intervalNsec(), t.valueSec(), t.valueNsec()}));
                p.call("timer_settime(" + t.id() + ")", Nr.TIMER_SETTIME, t.id(), 0, spec, 0);
            }
        }
        p.call("prctl(PR_TIMER_CREATE_RESTORE_IDS, off)", Nr.PRCTL, Prctl.PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
    }

    private long probe(int option, long arg) {
        RestoreProgram p = puppet.newProgram();
        int i = p.tryCall("prctl probe", Nr.PRCTL, option, arg, 0, 0, 0);
        puppet.run(p);
        return p.result(i);
    }

    /** Creates every thread but the main one, with its thread id and clear-child-tid address. */
    public void createThreads(List<ThreadImage> threads) {
        for (ThreadImage t : threads) {
            if (t.tid() != process.pid()) {
                puppet.createThread(t.tid(), t.clearChildTid());
            }
        }
    }

    /**
     * POSIX timers, once every thread exists (a timer may signal one thread: glibc's SIGEV_THREAD timers
     * target its helper thread, and timer_create refuses a thread not there yet), then what each thread sets up
     * for itself: alternate signal stack, rseq, robust futex list, queued signals, name.
     */
    public void restoreThreadState(List<ThreadImage> threads) {
        RestoreProgram timers = puppet.newProgram();
        restorePosixTimers(timers);
        puppet.run(timers);
        for (ThreadImage t : threads) {
            RestoreProgram p = puppet.newProgram();
            if (t.altStackSize() != 0) {
                byte[] ss = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(0, t.altStackBase())
                    .putInt(8, t.altStackFlags()).putLong(16, t.altStackSize()).array();
                p.call("sigaltstack of thread " + t.tid(), Nr.SIGALTSTACK, p.data(ss), 0);
            }
            if (t.rseqAddress() != 0) {
                p.call("rseq of thread " + t.tid(), Nr.RSEQ, t.rseqAddress(), t.rseqSize(), 0, t.rseqSignature());
            }
            if (t.robustListHead() != 0) {
                p.call("set_robust_list of thread " + t.tid(), Nr.SET_ROBUST_LIST, t.robustListHead(), t.robustListLength());
            }
            if (t.tid() == process.pid()) {
                p.call("set_tid_address", Nr.SET_TID_ADDRESS, t.clearChildTid());
            }
            for (byte[] info : t.pendingSignals()) {
                int signo = signalOf(info);
                if (signo != SIGTRAP) {     // the later traps of the restore would take it: queueTraps
                    p.call("queue pending signal " + signo + " for thread " + t.tid(), Nr.RT_TGSIGQUEUEINFO, process.pid(), t.tid(), signo,
                        p.data(info));
                }
            }
            p.call("name thread " + t.tid() + " '" + t.name() + "'", Nr.PRCTL, Prctl.PR_SET_NAME, p.cString(t.name()));
            puppet.run(t.tid(), p);
        }
    }

    /**
     * Resource limits (set from outside, so the restorer's own work is not limited by them), credentials,
     * capability sets and no_new_privs, in every thread: credentials belong to a thread, and a raw setresuid changes only the caller's (glibc's
     * wrapper signals every thread to do the same), so threads created before would stay root.
     */
    public void restoreLimitsAndCredentials(List<ThreadImage> threads) {
        for (int r = 0; r < process.rlimits().length; r++) {
            long[] want = process.rlimits()[r];
            long[] have = Linux.getRlimit(puppet.pid(), r);
            if (want[0] == have[0] && want[1] == have[1]) {
                continue;
            }
            try {
                Linux.setRlimit(puppet.pid(), r, want[0], want[1]);
            } catch (RuntimeException e) {
                throw new FailedException("resource limit " + r + " of process " + process.pid() + " cannot be set to "
                    + want[0] + "/" + want[1] + " here (raising a hard limit needs CAP_SYS_RESOURCE): " + e.getMessage(), e);
            }
        }
        ByteBuffer groups = ByteBuffer.allocate(Math.max(4, process.groups().length * 4)).order(ByteOrder.LITTLE_ENDIAN);
        for (int g : process.groups()) {
            groups.putInt(g);
        }
        ProcessImage.Capabilities restorer = ProcessImage.Capabilities.of(puppetStatus());
        ProcessImage.Capabilities want = process.capabilities();
        for (ThreadImage t : threads) {
            RestoreProgram p = puppet.newProgram();
            if (want != null) {
                // the bounding set can only shrink, and only while the thread may (CAP_SETPCAP); the permitted set is
                // kept across setresuid (SECBIT_KEEP_CAPS) so that the sets can be given exactly afterwards
                for (int cap = 0; cap < Long.SIZE; cap++) {
                    if ((restorer.bounding() & ~want.bounding() & 1L << cap) != 0) {
                        p.call("drop capability " + cap + " from the bounding set of thread " + t.tid(), Nr.PRCTL, Prctl.PR_CAPBSET_DROP,
                            cap, 0, 0, 0);
                    }
                }
                p.call("keep capabilities across setresuid in thread " + t.tid(), Nr.PRCTL, Prctl.PR_SET_SECUREBITS, Prctl.SECBIT_KEEP_CAPS,
                    0, 0, 0);
            }
            p.call("setgroups in thread " + t.tid(), Nr.SETGROUPS, process.groups().length, p.data(groups.array()));
            p.call("setresgid in thread " + t.tid(), Nr.SETRESGID, process.gids()[0], process.gids()[1], process.gids()[2]);
            p.call("setresuid in thread " + t.tid(), Nr.SETRESUID, process.uids()[0], process.uids()[1], process.uids()[2]);
            if (want != null) {
                // still all permitted: effective again for what follows, the inheritable set first (ambient needs it)
                capset(p, t, restorer.permitted(), restorer.permitted(), want.inheritable());
                for (int cap = 0; cap < Long.SIZE; cap++) {
                    if ((want.ambient() & 1L << cap) != 0) {
                        p.call("raise ambient capability " + cap + " in thread " + t.tid(), Nr.PRCTL, Prctl.PR_CAP_AMBIENT,
                            Prctl.PR_CAP_AMBIENT_RAISE, cap, 0, 0);
                    }
                }
                p.call("securebits of thread " + t.tid(), Nr.PRCTL, Prctl.PR_SET_SECUREBITS, 0, 0, 0, 0);
                capset(p, t, want.effective(), want.permitted(), want.inheritable());
            }
            if (process.noNewPrivs()) {
                p.call("no_new_privs in thread " + t.tid(), Nr.PRCTL, Prctl.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            }
            // a change of ids made the process non-dumpable (unless fs.suid_dumpable says otherwise); 2, which only that
            // sysctl gives, cannot be set by the process either
            if (process.dumpable() != null && process.dumpable() < 2) {
                p.call("prctl(PR_SET_DUMPABLE, " + process.dumpable() + ") in thread " + t.tid(), Nr.PRCTL, Prctl.PR_SET_DUMPABLE,
                    process.dumpable(), 0, 0, 0);
            }
            puppet.run(t.tid(), p);
        }
    }

    /** capset(2) of the calling thread: struct __user_cap_header_struct, then two struct __user_cap_data_struct. */
    private static void capset(RestoreProgram p, ThreadImage t, long effective, long permitted, long inheritable) {
        ByteBuffer header = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(Prctl.CAPABILITY_VERSION_3).putInt(0);
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        for (int half = 0; half < 2; half++) {
            data.putInt((int) (effective >>> 32 * half)).putInt((int) (permitted >>> 32 * half)).putInt((int) (inheritable >>> 32 * half));
        }
        p.call("capset in thread " + t.tid(), Nr.CAPSET, p.data(header.array()), p.data(data.array()));
    }

    private Map<String, String> puppetStatus() {
        return new ProcFs(puppet.pid()).status();
    }

    /**
     * What a trap of the restore (a program's int3, a single step) would take from the process, given once nothing
     * traps in it any more (after every thread's final state is set), between system call stops: SIGTRAP's action
     * (a trap forced while SIGTRAP is blocked, as it is throughout the restore, resets it to the default) and the
     * SIGTRAPs pending for the process, in the main thread; then those pending for each thread.
     */
    public void queueTraps(List<ThreadImage> threads) {
        giveProcessTraps();
        for (ThreadImage t : threads) {
            List<byte[]> traps = t.pendingSignals().stream().filter(info -> signalOf(info) == SIGTRAP).toList();
            if (!traps.isEmpty()) {
                puppet.queueSignalsLast(process.pid(), t.tid(), traps);
            }
        }
    }

    /** SIGTRAP's action, unless a fresh process's (SIG_DFL, no flags, no mask), and the SIGTRAPs pending for the process. */
    private void giveProcessTraps() {
        List<byte[]> pending = process.pendingSignals().stream().filter(info -> signalOf(info) == SIGTRAP).toList();
        ProcessImage.SignalAction action = process.signalActions().stream()
            .filter(a -> a.signal() == SIGTRAP && (a.handler() | a.flags() | a.restorer() | a.mask()) != 0).findFirst().orElse(null);
        if (action == null && pending.isEmpty()) {
            return;
        }
        int main = puppet.pid();
        try (InjectedSyscalls in = InjectedSyscalls.withoutTraps(main, main, Ptrace.getRegisters(main))) {
            if (action != null) {
                in.writeScratch(0, sigaction(action));
                check(in.call(Nr.RT_SIGACTION, SIGTRAP, in.scratch(), 0, 8), "setting the action of SIGTRAP");
            }
            for (byte[] info : pending) {
                in.writeScratch(0, info);
                check(in.call(Nr.RT_SIGQUEUEINFO, process.pid(), SIGTRAP, in.scratch()), "queueing a SIGTRAP pending for the process");
            }
        }
    }

    private void check(long result, String what) {
        if (Errno.isError(result)) {
            throw new FailedException(what + " in process " + process.pid() + ": " + Errno.describe((int) -result));
        }
    }

    /** Every thread's saved registers, XSAVE area and signal mask, for when the process is let go. */
    public void setFinalThreadStates(List<ThreadImage> threads) {
        for (ThreadImage t : threads) {
            puppet.setThreadState(t.tid(), resumable(new Registers(t.registers())), t.xstate(), t.sigmask());
        }
    }

    /**
     * A thread stopped inside a system call was saved with the kernel's restart code in rax; the
     * kernel would have restarted the call on its way back, so do what it would have done. A call
     * with a restart block (nanosleep, poll with a timeout) is issued again with its original
     * arguments: the kernel's remaining-time bookkeeping stayed behind, and sleeping a little
     * longer is invisible where an EINTR would not be.
     */
    static Registers resumable(Registers saved) {
        long origRax = saved.get(Registers.ORIG_RAX);
        long rax = saved.get(Registers.RAX);
        Registers r = saved.with(Registers.ORIG_RAX, -1);
        boolean restart = rax == -Linux.ERESTARTSYS || rax == -Linux.ERESTARTNOINTR || rax == -Linux.ERESTARTNOHAND
            || rax == -Linux.ERESTART_RESTARTBLOCK;
        if (origRax < 0 || !restart) {
            return r;
        }
        return r.with(Registers.RAX, origRax).with(Registers.RIP, saved.get(Registers.RIP) - 2);
    }

    private static byte[] longs(long[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return b.array();
    }
}
