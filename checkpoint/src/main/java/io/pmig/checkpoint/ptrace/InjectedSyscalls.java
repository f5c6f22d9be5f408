package io.pmig.checkpoint.ptrace;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Ptrace;
import io.pmig.checkpoint.nativeio.Registers;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.nativeio.Errno;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * Makes a frozen thread of the checkpointed process run system calls: a {@code syscall}
 * instruction is written over the code at its instruction pointer and single-stepped with
 * prepared registers ({@link #callAll} runs many calls from code of their own in one go); the code
 * and registers are put back on {@link #close()}. A scratch page
 * mapped inside the process carries memory arguments, read and written with process_vm_*v.
 * Signals stay blocked meanwhile, SIGTRAP excepted: a signal pending at a single-step would be delivered instead
 * of the syscall running (timers keep firing while a process is frozen), and a trap of ours (single-step, int3)
 * forced while SIGTRAP is blocked or ignored resets the process's SIGTRAP handler to the default (the kernel's
 * force_sig). A thread whose process ignores SIGTRAP, or with one pending, has its calls made between system
 * call stops instead, which are no traps.
 */
public final class InjectedSyscalls implements RemoteSyscalls, AutoCloseable {
    private static final long SYSCALL_INSN = 0x050fL; // 0f 05
    private static final int SIGTRAP = 5;
    private static final long ALL_BUT_SIGTRAP = ~(1L << SIGTRAP - 1);
    /** x86-64 encodings of mov rdi/rsi/rdx/r10/r8/r9, imm64: the syscall arguments in order. */
    private static final byte[][] MOV_ARGUMENT = {{0x48, (byte) 0xbf}, {0x48, (byte) 0xbe}, {0x48, (byte) 0xba},
        {0x49, (byte) 0xba}, {0x49, (byte) 0xb8}, {0x49, (byte) 0xb9}};
    private static final byte MOV_EAX = (byte) 0xb8; // mov eax, imm32 (zero-extends into rax)
    private static final byte[] SYSCALL = {0x0f, 0x05};
    private static final byte[] MOV_TO_ADDRESS_RAX = {0x48, (byte) 0xa3}; // movabs [imm64], rax
    private static final byte INT3 = (byte) 0xcc;
    /** Six mov r, imm64; mov eax, imm32; syscall; movabs [imm64], rax. */
    private static final int CALL_CODE_BYTES = 6 * 10 + 5 + 2 + 10;
    public static final int SCRATCH_SIZE = 4096;

    private final int pid;
    private final int tid;
    private final Registers original;
    private final long rip;
    private final long originalCode;
    private final long originalSigmask;
    /**
     * The thread or its process has a SIGTRAP pending: a trap of ours (single-step, int3) would be merged into it
     * and take it (the kernel forces SIGTRAP through, unblocked, and dequeues the pending one first, which we
     * would then discard as our trap); or the process ignores SIGTRAP, and a trap would make it the default
     * again. Each call then runs between two system call stops, which are no signals.
     */
    private final boolean trapless;
    private long scratch;

    public InjectedSyscalls(int pid, int tid, Registers original) {
        this(pid, tid, original, trapPending(tid) || trapIgnored(pid));
    }

    /** Calls that make no trap whatever is pending: for a thread about to be given a SIGTRAP to keep. */
    public static InjectedSyscalls withoutTraps(int pid, int tid, Registers original) {
        return new InjectedSyscalls(pid, tid, original, true);
    }

    private InjectedSyscalls(int pid, int tid, Registers original, boolean trapless) {
        this.pid = pid;
        this.tid = tid;
        this.original = original;
        this.rip = original.get(Registers.RIP);
        this.originalCode = RemoteMemory.readLong(pid, rip);
        this.trapless = trapless;
        this.originalSigmask = Ptrace.getSigmask(tid);
        Ptrace.setSigmask(tid, trapless ? -1L : ALL_BUT_SIGTRAP);
        RemoteMemory.writeLongForced(pid, rip, (originalCode & ~0xffffL) | SYSCALL_INSN);
    }

    private static boolean trapPending(int tid) {
        return java.util.stream.Stream.of(false, true).flatMap(shared -> Ptrace.pendingSignals(tid, shared).stream())
            .anyMatch(info -> ByteBuffer.wrap(info).order(ByteOrder.LITTLE_ENDIAN).getInt(0) == SIGTRAP);
    }

    /** Whether process {@code pid} ignores SIGTRAP (SIG_IGN), as /proc/PID/status says. */
    private static boolean trapIgnored(int pid) {
        return (Long.parseUnsignedLong(new ProcFs(pid).status().get("SigIgn").trim(), 16) & 1L << SIGTRAP - 1) != 0;
    }

    @Override
    public long call(int nr, long... args) {
        Ptrace.setRegisters(tid, original.forSyscall(rip, nr, args));
        if (trapless) {
            Ptrace.toSyscallStop(tid);
            awaitTrap("entering an injected syscall " + nr);
            Ptrace.toSyscallStop(tid);
            awaitTrap("leaving an injected syscall " + nr);
        } else {
            Ptrace.singleStep(tid);
            awaitTrap("during an injected syscall " + nr);
        }
        return Ptrace.getRegisters(tid).get(Registers.RAX);
    }

    /** A system call for {@link #callAll}: its number and up to six arguments. */
    public record Call(int nr, long... args) {
    }

    /**
     * Runs {@code calls} in order and returns their raw results (-errno on failure). They cost one stop and
     * go instead of a single-step each (a wake-up of the thread per call, tens of µs on a busy machine): their
     * code — per call its arguments loaded, {@code syscall}, the result stored in the last
     * {@code 8 * calls.size()} bytes of the scratch page — runs from pages the process maps read and execute,
     * written through /proc/PID/mem, so that no mapping is ever writable and executable at once
     * (MemoryDenyWriteExecute allows it); int3 ends it. A process that may not map executable memory (SELinux
     * without execmem), or a thread with a SIGTRAP pending, has the calls made one by one, as are fewer than three. The calls
     * must not block.
     */
    public long[] callAll(List<Call> calls) {
        if (calls.size() * 8L > SCRATCH_SIZE) {
            throw new IllegalArgumentException(calls.size() + " calls leave no room for their results in the scratch page");
        }
        long results = scratch() + SCRATCH_SIZE - calls.size() * 8L;
        ByteBuffer code = ByteBuffer.allocate(calls.size() * CALL_CODE_BYTES + 1).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < calls.size(); i++) {
            Call c = calls.get(i);
            for (int a = 0; a < MOV_ARGUMENT.length; a++) {
                code.put(MOV_ARGUMENT[a]).putLong(a < c.args().length ? c.args()[a] : 0);
            }
            code.put(MOV_EAX).putInt(c.nr()).put(SYSCALL).put(MOV_TO_ADDRESS_RAX).putLong(results + i * 8L);
        }
        code.put(INT3);
        long length = (code.position() + SCRATCH_SIZE - 1) / SCRATCH_SIZE * SCRATCH_SIZE;
        // fewer than three calls are cheaper one by one: mapping the code and unmapping it are two calls of their own
        long pages = trapless || calls.size() < 3 ? -Errno.EPERM
            : call(Nr.MMAP, 0, length, Linux.PROT_READ | Linux.PROT_EXEC, Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, -1, 0);
        if (Errno.isError(pages)) {
            return calls.stream().mapToLong(c -> call(c.nr(), c.args())).toArray();
        }
        try {
            RemoteMemory.writeForced(pid, pages, Arrays.copyOf(code.array(), code.position()));
            Ptrace.setRegisters(tid, original.forSyscall(pages, 0)); // forSyscall: no system call to restart on the way
            Ptrace.cont(tid, 0);
            awaitTrap("running " + calls.size() + " injected syscalls");
        } finally {
            call(Nr.MUNMAP, pages, length);
        }
        ByteBuffer out = ByteBuffer.wrap(readScratch(SCRATCH_SIZE - calls.size() * 8, calls.size() * 8)).order(ByteOrder.LITTLE_ENDIAN);
        long[] r = new long[calls.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = out.getLong();
        }
        return r;
    }

    private void awaitTrap(String what) {
        int status = Ptrace.waitFor(tid);
        // a system call stop reports SIGTRAP, with 0x80 added under PTRACE_O_TRACESYSGOOD
        if (!Ptrace.isStopped(status) || (Ptrace.stopSignal(status) & 0x7f) != SIGTRAP) {
            throw new IllegalStateException("thread " + tid + " " + Ptrace.describeStatus(status) + " " + what);
        }
    }

    /** The address of a page inside the process for memory arguments, mapped on first use. */
    public long scratch() {
        if (scratch == 0) {
            long r = call(Nr.MMAP, 0, SCRATCH_SIZE, Linux.PROT_READ | Linux.PROT_WRITE, Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, -1, 0);
            if (r < 0 && r > -4096) {
                throw new IllegalStateException("cannot map a scratch page in process " + pid + ": errno " + -r);
            }
            scratch = r;
        }
        return scratch;
    }

    public byte[] readScratch(int offset, int length) {
        NativeMemory m = NativeMemory.allocate(length);
        RemoteMemory.read(pid, scratch() + offset, m.address(), length);
        return m.bytes(0, length);
    }

    public void writeScratch(int offset, byte[] data) {
        NativeMemory m = NativeMemory.allocate(data.length);
        m.put(0, data);
        RemoteMemory.write(pid, scratch() + offset, m.address(), data.length);
    }

    @Override
    public void close() {
        if (scratch != 0) {
            call(Nr.MUNMAP, scratch, SCRATCH_SIZE);
            scratch = 0;
        }
        RemoteMemory.writeLongForced(pid, rip, originalCode);
        Ptrace.setRegisters(tid, original);
        if (trapless) {
            // a system call stop is outside the signal path, where a resumed thread restarts an interrupted call
            // (rax holding -ERESTART...): let it trap back into it (PTRACE_EVENT_STOP), every signal still blocked
            Ptrace.interrupt(tid);
            Ptrace.cont(tid, 0);
            awaitTrap("returning to its stop");
        }
        Ptrace.setSigmask(tid, originalSigmask);
    }
}
