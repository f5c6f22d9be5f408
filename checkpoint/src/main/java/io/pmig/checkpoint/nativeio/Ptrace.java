package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

/**
 * Typed ptrace(2) for one thread. Requests must come from the thread that attached, so an
 * engine run stays on one Java thread. Constants from linux/ptrace.h and linux/elf.h.
 */
public final class Ptrace {
    private static final int PTRACE_CONT = 7;
    private static final int PTRACE_KILL = 8;
    private static final int PTRACE_SINGLESTEP = 9;
    private static final int PTRACE_SYSCALL = 24;
    private static final int PTRACE_DETACH = 17;
    private static final int PTRACE_SETOPTIONS = 0x4200;
    private static final int PTRACE_GETEVENTMSG = 0x4201;
    private static final int PTRACE_GETREGSET = 0x4204;
    private static final int PTRACE_SETREGSET = 0x4205;
    private static final int PTRACE_SEIZE = 0x4206;
    private static final int PTRACE_INTERRUPT = 0x4207;
    private static final int PTRACE_PEEKSIGINFO = 0x4209;
    private static final int PTRACE_GETSIGMASK = 0x420a;
    private static final int PTRACE_SETSIGMASK = 0x420b;
    private static final int PTRACE_GET_RSEQ_CONFIGURATION = 0x420f;
    private static final int NT_PRSTATUS = 1;
    private static final int NT_X86_XSTATE = 0x202;
    private static final int PTRACE_PEEKSIGINFO_SHARED = 1;
    public static final int PTRACE_O_TRACEFORK = 1 << 1;
    public static final int PTRACE_O_TRACECLONE = 1 << 3;
    /** The tracee gets SIGKILL if its tracer exits (linux/ptrace.h). */
    public static final int PTRACE_O_EXITKILL = 1 << 20;
    public static final int PTRACE_EVENT_FORK = 1;
    public static final int PTRACE_EVENT_CLONE = 3;
    public static final int PTRACE_EVENT_STOP = 128;
    private static final int WALL = 0x40000000;
    /** sizeof(siginfo_t) */
    public static final int SIGINFO_SIZE = 128;
    /** Large enough for any XSAVE layout of current CPUs (AMX included). */
    private static final int XSTATE_MAX = 16384;

    private static final ThreadLocal<NativeMemory> SCRATCH = ThreadLocal.withInitial(() -> NativeMemory.allocate(XSTATE_MAX + 64));

    private Ptrace() {
    }

    private static long ptrace(String what, int request, int tid, long addr, long data) {
        return Syscall.call("ptrace(" + what + ", " + tid + ")", Nr.PTRACE, request, tid, addr, data);
    }

    public static void seize(int tid, int options) {
        ptrace("SEIZE", PTRACE_SEIZE, tid, 0, options);
    }

    public static void setOptions(int tid, int options) {
        ptrace("SETOPTIONS", PTRACE_SETOPTIONS, tid, 0, options);
    }

    public static void interrupt(int tid) {
        ptrace("INTERRUPT", PTRACE_INTERRUPT, tid, 0, 0);
    }

    public static void cont(int tid, int signal) {
        ptrace("CONT", PTRACE_CONT, tid, 0, signal);
    }

    public static void singleStep(int tid) {
        ptrace("SINGLESTEP", PTRACE_SINGLESTEP, tid, 0, 0);
    }

    /** Lets the thread run to its next system call entry or exit, where it stops (a ptrace stop, no signal). */
    public static void toSyscallStop(int tid) {
        ptrace("SYSCALL", PTRACE_SYSCALL, tid, 0, 0);
    }

    public static void detach(int tid) {
        detach(tid, 0);
    }

    /** Detaches and lets the thread go on with {@code signal} delivered (0: none). */
    public static void detach(int tid, int signal) {
        ptrace("DETACH", PTRACE_DETACH, tid, 0, signal);
    }

    public static long eventMessage(int tid) {
        NativeMemory m = SCRATCH.get();
        ptrace("GETEVENTMSG", PTRACE_GETEVENTMSG, tid, 0, m.address());
        return m.getLong(0);
    }

    /** Waits for a state change of {@code tid} (any child kind) and returns the raw wait status. */
    public static int waitFor(int tid) {
        NativeMemory m = SCRATCH.get();
        while (true) {
            long r = Syscall.tryCall(Nr.WAIT4, tid, m.address(), WALL, 0);
            if (r == -Errno.EINTR) {
                continue;
            }
            if (r < 0) {
                throw new SyscallException("wait4(" + tid + ")", (int) -r);
            }
            return m.getInt(0);
        }
    }

    public static Registers getRegisters(int tid) {
        NativeMemory m = SCRATCH.get();
        long iov = m.address() + XSTATE_MAX;
        m.putLong(XSTATE_MAX, m.address());
        m.putLong(XSTATE_MAX + 8, Registers.SIZE);
        ptrace("GETREGSET NT_PRSTATUS", PTRACE_GETREGSET, tid, NT_PRSTATUS, iov);
        long[] words = new long[27];
        for (int i = 0; i < 27; i++) {
            words[i] = m.getLong(i * 8L);
        }
        return new Registers(words);
    }

    public static void setRegisters(int tid, Registers regs) {
        NativeMemory m = SCRATCH.get();
        long[] words = regs.words();
        for (int i = 0; i < 27; i++) {
            m.putLong(i * 8L, words[i]);
        }
        m.putLong(XSTATE_MAX, m.address());
        m.putLong(XSTATE_MAX + 8, Registers.SIZE);
        ptrace("SETREGSET NT_PRSTATUS", PTRACE_SETREGSET, tid, NT_PRSTATUS, m.address() + XSTATE_MAX);
    }

    /** The thread's XSAVE area (FPU, SSE, AVX...), as long as the kernel reports it. */
    public static byte[] getXstate(int tid) {
        NativeMemory m = SCRATCH.get();
        m.putLong(XSTATE_MAX, m.address());
        m.putLong(XSTATE_MAX + 8, XSTATE_MAX);
        ptrace("GETREGSET NT_X86_XSTATE", PTRACE_GETREGSET, tid, NT_X86_XSTATE, m.address() + XSTATE_MAX);
        int length = (int) m.getLong(XSTATE_MAX + 8);
        return m.bytes(0, length);
    }

    public static void setXstate(int tid, byte[] xstate) {
        NativeMemory m = SCRATCH.get();
        m.put(0, xstate);
        m.putLong(XSTATE_MAX, m.address());
        m.putLong(XSTATE_MAX + 8, xstate.length);
        ptrace("SETREGSET NT_X86_XSTATE", PTRACE_SETREGSET, tid, NT_X86_XSTATE, m.address() + XSTATE_MAX);
    }

    public static long getSigmask(int tid) {
        NativeMemory m = SCRATCH.get();
        ptrace("GETSIGMASK", PTRACE_GETSIGMASK, tid, 8, m.address());
        return m.getLong(0);
    }

    public static void setSigmask(int tid, long mask) {
        NativeMemory m = SCRATCH.get();
        m.putLong(0, mask);
        ptrace("SETSIGMASK", PTRACE_SETSIGMASK, tid, 8, m.address());
    }

    /**
     * The queued signals of the thread ({@code shared=false}) or of its process ({@code shared=true}),
     * each a raw siginfo_t, read without dequeuing them.
     */
    public static java.util.List<byte[]> pendingSignals(int tid, boolean shared) {
        NativeMemory m = SCRATCH.get();
        java.util.List<byte[]> out = new java.util.ArrayList<>();
        final int batch = 32;
        while (true) {
            // struct ptrace_peeksiginfo_args { u64 off; u32 flags; s32 nr; } placed after the buffer
            long args = m.address() + batch * SIGINFO_SIZE;
            m.putLong(batch * SIGINFO_SIZE, out.size());
            m.putInt(batch * SIGINFO_SIZE + 8, shared ? PTRACE_PEEKSIGINFO_SHARED : 0);
            m.putInt(batch * SIGINFO_SIZE + 12, batch);
            int n = (int) ptrace("PEEKSIGINFO", PTRACE_PEEKSIGINFO, tid, args, m.address());
            for (int i = 0; i < n; i++) {
                out.add(m.bytes((long) i * SIGINFO_SIZE, SIGINFO_SIZE));
            }
            if (n < batch) {
                return out;
            }
        }
    }

    /** struct ptrace_rseq_configuration: {u64 rseq_abi_pointer; u32 rseq_abi_size; u32 signature; u32 flags; u32 pad}. */
    public record RseqConfiguration(long address, int size, int signature, int flags) {
    }

    public static RseqConfiguration rseqConfiguration(int tid) {
        NativeMemory m = SCRATCH.get();
        ptrace("GET_RSEQ_CONFIGURATION", PTRACE_GET_RSEQ_CONFIGURATION, tid, 24, m.address());
        return new RseqConfiguration(m.getLong(0), m.getInt(8), m.getInt(12), m.getInt(16));
    }

    /**
     * Kills a traced process and, as its tracer, collects every thread's exit, so its parent can
     * reap it at once rather than when the tracer goes. {@code threads}: the leader first; its exit
     * is reported only after every other thread's, so it is collected last.
     */
    public static void killAndCollect(int pid, java.util.List<Integer> threads) {
        Syscall.tryCall(Nr.KILL, pid, 9);
        java.util.List<Integer> leaderLast = new java.util.ArrayList<>(threads);
        leaderLast.add(leaderLast.remove(0));
        for (int tid : leaderLast) {
            try {
                while (isStopped(waitFor(tid))) {
                    cont(tid, 0);
                }
            } catch (SyscallException e) {
                // ECHILD/ESRCH: already collected
            }
        }
    }

    public static boolean stoppedBy(int status, int event) {
        return (status & 0xff) == 0x7f && (status >>> 16) == event;
    }

    public static boolean isStopped(int status) {
        return (status & 0xff) == 0x7f;
    }

    public static int stopSignal(int status) {
        return (status >> 8) & 0xff;
    }

    public static String describeStatus(int status) {
        if ((status & 0x7f) == 0) {
            return "exited with code " + ((status >> 8) & 0xff);
        }
        if (isStopped(status)) {
            return "stopped by signal " + stopSignal(status) + " (event " + (status >>> 16) + ")";
        }
        return "killed by signal " + (status & 0x7f);
    }
}
