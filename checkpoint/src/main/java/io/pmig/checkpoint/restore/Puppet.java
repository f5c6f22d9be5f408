package io.pmig.checkpoint.restore;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.nativeio.Errno;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Ptrace;
import io.pmig.checkpoint.nativeio.Registers;
import io.pmig.checkpoint.nativeio.XsaveFeatures;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;
import io.pmig.checkpoint.ptrace.RemoteMemory;
import io.pmig.checkpoint.task.ProcessImage;
import io.pmig.checkpoint.tree.TimeNamespaces;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The process a restore turns into, while the engine still holds it: created by pmig-restorer
 * with the image's PID, reduced to the restorer's hole, and traced, so the engine can run
 * restore programs in any of its threads and finally give each thread its saved registers.
 */
public final class Puppet implements AutoCloseable {
    public static final long HOLE_SIZE = RestorerLayout.HOLE_SIZE;
    public static final int MAX_THREADS = RestorerLayout.MAX_THREADS;
    /** The signal a child sends its parent when it ends (asm/signal.h). */
    /** asm-generic/resource.h */
    private static final int RLIMIT_CORE = 4;
    private final int pid;
    private final long hole;
    private final long runProgram;
    private final long syscallStub;
    private final int enginePidfd;
    private final long xcr0;
    /** Registers of each thread when it stopped, by host tid. */
    private final Map<Integer, Registers> stopped = new LinkedHashMap<>();
    /** Host tids in creation order; the index picks the thread's stack in the hole. */
    private final List<Integer> threadOrder = new ArrayList<>();
    /** The image's thread ids (as the process sees them) to host tids; they differ in a new PID namespace. */
    private final Map<Integer, Integer> hostTid = new HashMap<>();
    /** The process runs in a PID namespace of its own, under the restorer's minimal init. */
    private final boolean inNewPidNamespace;
    private boolean released;
    /** The cgroup v2 directory the process was created in (null: the restorer's). */
    private Path bornInto;

    /** A child's puppet: a copy of {@code parent}'s bare state, the same hole and restorer at the same addresses. */
    private Puppet(int pid, Puppet parent) {
        this.pid = pid;
        this.inNewPidNamespace = parent.inNewPidNamespace;
        this.hole = parent.hole;
        this.runProgram = parent.runProgram;
        this.syscallStub = parent.syscallStub;
        this.enginePidfd = parent.enginePidfd;
        this.xcr0 = parent.xcr0;
    }

    private Puppet(int pid, long hole, NativeMemory ctl, boolean inNewPidNamespace) {
        this.pid = pid;
        this.inNewPidNamespace = inNewPidNamespace;
        this.hole = hole;
        this.runProgram = ctl.getLong(8);
        this.syscallStub = ctl.getLong(16);
        this.enginePidfd = (int) ctl.getLong(48);
        this.xcr0 = ctl.getLong(56);
    }

    /**
     * Has pmig-restorer ({@link RestorerServer}) create a process with PID {@code pid} and takes hold of it. With
     * {@code newPidNamespaceIfTaken}, a pid or thread id in use on this host makes the restorer try again in a new PID
     * namespace (the process keeps its numbers there). The process lives in a time namespace of its own that continues
     * {@code clocks} (see TimeNamespaces; null: the host's clocks). {@code cgroup}: a cgroup v2 directory a process
     * created outside a new PID namespace is born into (null: none); {@link #bornInto} tells whether it was.
     */
    public static Puppet launch(Path restorer, int pid, long hole, boolean newPidNamespace, boolean newPidNamespaceIfTaken,
                                ProcessImage.Clocks clocks, Path cgroup) {
        Puppet puppet;
        try {
            puppet = start(restorer, pid, hole, newPidNamespace, clocks, cgroup);
        } catch (PidTakenException e) {
            if (!newPidNamespaceIfTaken) {
                throw e;
            }
            puppet = start(restorer, pid, hole, true, clocks, cgroup);
        }
        puppet.hostTid.put(pid, puppet.pid);
        return puppet;
    }

    private static Puppet start(Path restorer, int pid, long hole, boolean newPidNamespace, ProcessImage.Clocks clocks, Path cgroup) {
        StringBuilder request = new StringBuilder().append(pid).append(" 0x").append(Long.toHexString(hole))
            .append(" 0x").append(Long.toHexString(RestorerLayout.HOLE_SIZE));
        if (newPidNamespace) {
            request.append(" ns");
        }
        String time = TimeNamespaces.restorerArgument(clocks);
        if (time != null) {
            request.append(' ').append(time);
        }
        // in a new PID namespace the process's host pid, which names its cgroup, is not known before it exists
        boolean bornInto = cgroup != null && !newPidNamespace && cgroup.toString().indexOf('\n') < 0;
        if (bornInto) {
            request.append(" cgroup=").append(cgroup);
        }
        List<String> reply = RestorerServer.request(restorer, request.toString(), pid);
        int outerPid = pid;
        for (String line : reply) {
            if (line.isBlank()) {
                continue;
            }
            String[] w = line.trim().split(" ");
            if (w[0].equals("retry")) {
                return start(restorer, pid, hole, newPidNamespace, clocks, cgroup); // the launcher held the pid itself
            } else if (w[0].equals("nsinit")) {
                outerPid = childOf(Integer.parseInt(w[1]));
            } else if (w[0].startsWith("error-")) {
                int errno = Integer.parseInt(w[2]);
                if (bornInto && (w[0].equals("error-open-cgroup") || (w[0].equals("error-clone3") && errno != Errno.EEXIST))) {
                    return start(restorer, pid, hole, false, clocks, null); // its cgroup gone (another restore's sweep): it is placed later
                }
                if (w[0].startsWith("error-clone3") && errno == Errno.EEXIST) {
                    throw new PidTakenException("pid " + pid + " is in use on this host (by a process, or as the session or "
                        + "process group id of one: see ps -eo pid,pgid,sid); stop it or restore with --new-pid-namespace");
                }
                throw new FailedException("the restorer failed at " + w[0].substring(6) + ": " + Errno.describe(errno));
            } else if (!w[0].equals("ok")) {
                throw new FailedException("the restorer said: " + String.join("\n", reply).trim());
            }
        }
        if (reply.stream().noneMatch(line -> line.startsWith("ok "))) {
            throw new FailedException("the restorer reported nothing" + (reply.isEmpty() ? "" : ": " + String.join("\n", reply).trim()));
        }
        try {
            Puppet puppet = takeHold(outerPid, hole, newPidNamespace);
            puppet.bornInto = bornInto ? cgroup : null;
            return puppet;
        } catch (RuntimeException e) {
            Linux.kill(outerPid, Linux.SIGKILL); // created but never ours: it must not stay
            throw e;
        }
    }

    private static Puppet takeHold(int outerPid, long hole, boolean inNewPidNamespace) {
        // EXITKILL: if the engine dies before the process is released, the half-built or not yet
        // committed copy dies with it instead of running on beside the original
        Ptrace.seize(outerPid, Ptrace.PTRACE_O_TRACECLONE | Ptrace.PTRACE_O_TRACEFORK | Ptrace.PTRACE_O_EXITKILL);
        Ptrace.interrupt(outerPid);
        int status = Ptrace.waitFor(outerPid);
        if (!Ptrace.isStopped(status)) {
            throw new FailedException("restored process " + outerPid + " " + Ptrace.describeStatus(status) + " before it was rebuilt");
        }
        NativeMemory ctl = NativeMemory.allocate(RestorerLayout.CTL_SIZE);
        RemoteMemory.read(outerPid, hole + RestorerLayout.CTL_OFFSET, ctl.address(), RestorerLayout.CTL_SIZE);
        if (ctl.getLong(0) != RestorerLayout.MAGIC) {
            throw new FailedException("restored process " + outerPid + " has no restorer control block at 0x" + Long.toHexString(hole));
        }
        Puppet puppet = new Puppet(outerPid, hole, ctl, inNewPidNamespace);
        puppet.stopped.put(outerPid, Ptrace.getRegisters(outerPid));
        puppet.threadOrder.add(outerPid);
        return puppet;
    }

    private static int childOf(int nsInit) {
        for (int attempt = 0; attempt < 200; attempt++) {
            try {
                String children = Files.readString(Path.of("/proc", Integer.toString(nsInit), "task", Integer.toString(nsInit), "children")).trim();
                if (!children.isEmpty()) {
                    return Integer.parseInt(children.split(" ")[0]);
                }
                Thread.sleep(5);
            } catch (IOException e) {
                throw new FailedException("cannot find the process created in the new PID namespace under " + nsInit, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FailedException("interrupted", e);
            }
        }
        throw new FailedException("the new PID namespace's init " + nsInit + " created no process");
    }

    /** The cgroup v2 directory the process was born into ({@link #launch}'s {@code cgroup}), or null: it is in the restorer's. */
    public Path bornInto() {
        return bornInto;
    }

    /** The restored process runs in a PID namespace of its own. */
    public boolean inNewPidNamespace() {
        return inNewPidNamespace;
    }

    /** The restored process's pid as this host sees it. */
    public int pid() {
        return pid;
    }

    /** A pidfd of this (the engine's) process, open in the restored process until the descriptors are installed. */
    public int enginePidfd() {
        return enginePidfd;
    }

    public long hole() {
        return hole;
    }

    public RestoreProgram newProgram() {
        return new RestoreProgram(hole + RestorerLayout.SCRATCH_OFFSET);
    }

    /** Runs {@code program} in the main thread. */
    public void run(RestoreProgram program) {
        runIn(pid, program);
    }

    /** Runs {@code program} in the thread the image calls {@code savedTid}; throws, naming the call, if a required call failed. */
    public void run(int savedTid, RestoreProgram program) {
        runIn(hostTid.get(savedTid), program);
    }

    private void runIn(int tid, RestoreProgram program) {
        if (program.isEmpty()) {
            return;
        }
        NativeMemory encoded = program.encode();
        RemoteMemory.write(pid, program.programAddress(), encoded.address(), encoded.size());
        if (program.dataUsed() > 0) {
            RemoteMemory.write(pid, program.dataAddress(), program.dataMemory().address(), program.dataUsed());
        }
        Registers regs = stopped.get(tid)
            .with(Registers.RIP, runProgram)
            .with(Registers.RDI, program.programAddress())
            .with(Registers.RSP, RestorerLayout.stackTop(hole, threadOrder.indexOf(tid)))
            .with(Registers.ORIG_RAX, -1);
        Ptrace.setRegisters(tid, regs);
        Ptrace.cont(tid, 0);
        awaitTrap(tid);
        RemoteMemory.read(pid, program.programAddress(), encoded.address(), encoded.size());
        if (program.dataUsed() > 0) {
            RemoteMemory.read(pid, program.dataAddress(), program.dataMemory().address(), program.dataUsed());
        }
        program.decodeResults(encoded);
        long failedAt = encoded.getLong(8);
        if (failedAt >= 0) {
            long err = program.result((int) failedAt);
            throw new FailedException("restoring process " + pid + ": " + program.describe((int) failedAt) + " failed: "
                + Errno.describe((int) -err));
        }
    }

    private void awaitTrap(int tid) {
        int status = Ptrace.waitFor(tid);
        if (!Ptrace.isStopped(status) || Ptrace.stopSignal(status) != 5) {
            throw new FailedException("restored thread " + tid + " " + Ptrace.describeStatus(status) + " while running a restore program");
        }
    }

    /**
     * Creates thread {@code tid} (as the process sees it) in the restored process with
     * clone3(set_tid). The new thread is traced from birth and stays stopped until {@link #release}.
     */
    public void createThread(int tid, long clearChildTid) {
        long flags = Linux.CLONE_VM | Linux.CLONE_FS | Linux.CLONE_FILES | Linux.CLONE_SIGHAND | Linux.CLONE_THREAD
            | Linux.CLONE_SYSVSEM | (clearChildTid != 0 ? Linux.CLONE_CHILD_CLEARTID : 0);
        int host = cloneInMainThread(flags, 0, clearChildTid, tid, Ptrace.PTRACE_EVENT_CLONE, "thread id ");
        stopped.put(host, Ptrace.getRegisters(host));
        threadOrder.add(host);
        hostTid.put(tid, host);
    }

    /**
     * Forks a child process with PID {@code pid} (as the processes see it) from this one while it is still bare (the
     * restorer's hole and nothing of the image yet): a process tree is created before any member is built, so every
     * member starts from the same bare state and has its real parent. The child is traced from birth, stopped, and is
     * a puppet of its own, with the same hole, to be built like any restored process. {@code sharedFiles}: it shares
     * this one's descriptor table (CLONE_FILES), whose descriptors this one restores.
     */
    public Puppet forkChild(int pid, boolean sharedFiles) {
        int host = cloneInMainThread(sharedFiles ? Linux.CLONE_FILES : 0, Linux.SIGCHLD, 0, pid, Ptrace.PTRACE_EVENT_FORK, "pid ");
        Puppet child = new Puppet(host, this);
        child.stopped.put(host, Ptrace.getRegisters(host));
        child.threadOrder.add(host);
        child.hostTid.put(pid, host);
        return child;
    }

    /**
     * clone3 (struct clone_args of linux/sched.h) in the main thread with {@code set_tid = id}; returns the new task's
     * host id, stopped. {@code event}: the ptrace event its creation reports; {@code what}: how a refusal names the id.
     */
    private int cloneInMainThread(long flags, long exitSignal, long clearChildTid, int id, int event, String what) {
        RestoreProgram args = newProgram();
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(88).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long setTid = args.data(longBytes(id));
        b.putLong(0, flags).putLong(16, clearChildTid).putLong(32, exitSignal).putLong(64, setTid).putLong(72, 1);
        long cloneArgs = args.data(b.array());
        RemoteMemory.write(pid, args.dataAddress(), args.dataMemory().address(), args.dataUsed());
        Registers regs = stopped.get(pid).forSyscall(syscallStub, Nr.CLONE3, cloneArgs, 88)
            .with(Registers.RSP, RestorerLayout.stackTop(hole, 0));
        Ptrace.setRegisters(pid, regs);
        Ptrace.cont(pid, 0);
        int status = Ptrace.waitFor(pid);
        int host = -1;
        if (Ptrace.stoppedBy(status, event)) {
            host = (int) Ptrace.eventMessage(pid);
            Ptrace.cont(pid, 0);
            status = Ptrace.waitFor(pid);
        }
        long result = Ptrace.getRegisters(pid).get(Registers.RAX);
        if (!Ptrace.isStopped(status) || result != id) {
            if (result == -Errno.EEXIST) {
                throw new RefusedException(what + id + " is in use on this host; stop that process or restore with --new-pid-namespace");
            }
            throw new FailedException("creating " + what + id + " in restored process " + pid + ": "
                + (Errno.isError(result) ? Errno.describe((int) -result) : Ptrace.describeStatus(status)));
        }
        int childStatus = Ptrace.waitFor(host);
        if (!Ptrace.isStopped(childStatus)) {
            throw new FailedException("new " + what + id + " " + Ptrace.describeStatus(childStatus));
        }
        return host;
    }

    private static byte[] longBytes(long v) {
        return java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    /**
     * Gives thread {@code savedTid} its saved registers, XSAVE state (in this CPU's form: {@link XsaveFeatures#forThisCpu})
     * and signal mask for when it is released.
     */
    public void setThreadState(int savedTid, Registers regs, byte[] xstate, long sigmask) {
        int tid = hostTid.get(savedTid);
        try {
            Ptrace.setXstate(tid, XsaveFeatures.forThisCpu(xstate, Ptrace.getXstate(tid)));
        } catch (IllegalArgumentException e) {
            throw new RefusedException("thread " + savedTid + " holds state in XSAVE components this CPU lacks or lays out "
                + "otherwise (" + e.getMessage() + ", of XSAVE features 0x" + Long.toHexString(XsaveFeatures.xcr0(xstate))
                + "; this CPU has 0x" + Long.toHexString(xcr0) + "); restore it on a CPU like the one it ran on");
        }
        Ptrace.setRegisters(tid, regs);
        Ptrace.setSigmask(tid, sigmask);
    }

    /**
     * Queues signals (raw siginfo_t) for thread {@code savedTid} of process {@code savedPid} (their ids in the
     * process's own view) once nothing traps in it any more: a restore program's int3 or a single step takes a
     * pending SIGTRAP as its own trap. The thread queues them itself (only then does rt_tgsigqueueinfo keep their
     * si_code), between system call stops.
     */
    public void queueSignalsLast(int savedPid, int savedTid, List<byte[]> signals) {
        int tid = hostTid.get(savedTid);
        try (InjectedSyscalls in = InjectedSyscalls.withoutTraps(pid, tid, Ptrace.getRegisters(tid))) {
            for (byte[] info : signals) {
                in.writeScratch(0, info);
                long r = in.call(Nr.RT_TGSIGQUEUEINFO, savedPid, savedTid, info[0] & 0xff, in.scratch());
                if (Errno.isError(r)) {
                    throw new FailedException("queueing signal " + (info[0] & 0xff) + " for thread " + savedTid + ": "
                        + Errno.describe((int) -r));
                }
            }
        }
    }

    /** Blocks every signal in the main thread (threads created later inherit it). */
    public void blockAllSignals() {
        Ptrace.setSigmask(pid, -1L);
    }

    /** The XSAVE features (XCR0) this CPU enables for user space, as the restorer read them. */
    public long xfeatures() {
        return xcr0;
    }

    /**
     * Removes the restorer's hole, the last trace of the restore. The main thread single-steps the
     * munmap from the stub inside the hole: the step's trap comes before the next instruction is
     * fetched from the now missing page.
     */
    public void unmapHole() {
        Registers regs = stopped.get(pid).forSyscall(syscallStub, Nr.MUNMAP, hole, RestorerLayout.HOLE_SIZE);
        Ptrace.setRegisters(pid, regs);
        Ptrace.singleStep(pid);
        int status = Ptrace.waitFor(pid);
        long result = Ptrace.getRegisters(pid).get(Registers.RAX);
        if (!Ptrace.isStopped(status) || result != 0) {
            throw new FailedException("removing the restorer from process " + pid + ": "
                + (Errno.isError(result) ? Errno.describe((int) -result) : Ptrace.describeStatus(status)));
        }
    }

    /**
     * Ends this bare process as a member of a tree had ended, leaving it a zombie for its parent to reap with the same
     * {@code waitStatus} (as waitpid(2) gives it): it exits with the code, or is killed by the signal (with no core
     * dump: the status says whether the original dumped one, and a restore writes none). {@code savedPid}: its pid as it
     * sees itself. It is let go of here; nothing of the restore waits for it.
     */
    public void endAs(int waitStatus, int savedPid) {
        int signal = waitStatus & 0x7f;
        Registers regs;
        if (signal == 0) {
            regs = stopped.get(pid).forSyscall(syscallStub, Nr.EXIT_GROUP, (waitStatus >> 8) & 0xff);
        } else {
            Linux.setRlimit(pid, RLIMIT_CORE, 0, 0);
            Ptrace.setSigmask(pid, 0);
            regs = stopped.get(pid).forSyscall(syscallStub, Nr.KILL, savedPid, signal);
        }
        Ptrace.setRegisters(pid, regs.with(Registers.RSP, RestorerLayout.stackTop(hole, 0)));
        released = true;
        Ptrace.detach(pid);
    }

    /**
     * Kills {@code child}, a bare or half-built child of this one whose original ended during a pre-copy, and reaps it
     * here as its original's parent did ({@code savedPid}: its pid as this one sees it), taking back the SIGCHLD that
     * brought: this one was never told of a child its original never had any more.
     */
    public void reapChild(Puppet child, int savedPid) {
        child.close();
        RestoreProgram p = newProgram();
        p.call("reap child " + savedPid, Nr.WAIT4, savedPid, 0, Linux.WALL, 0);
        long sigchld = p.data(longBytes(1L << (Linux.SIGCHLD - 1)));
        long noWait = p.data(new byte[16]);
        p.tryCall("take back the SIGCHLD of child " + savedPid, Nr.RT_SIGTIMEDWAIT, sigchld, 0, noWait, 8);
        run(p);
    }

    /** Lets every thread run from the state it was given; the process is on its own from here. */
    public void release() {
        if (released) {
            return;                                         // ended as a zombie already (endAs)
        }
        released = true;
        for (int tid : threadOrder) {
            Ptrace.detach(tid);
        }
    }

    /** Kills a restore that did not finish, so no half-built process is left, not even as a zombie of ours. */
    @Override
    public void close() {
        if (!released) {
            released = true;
            Ptrace.killAndCollect(pid, threadOrder);
        }
    }

    /** The pid to create is in use on this host, by a process or as a process group or session id. */
    static final class PidTakenException extends RefusedException {
        PidTakenException(String message) {
            super(message);
        }
    }
}
