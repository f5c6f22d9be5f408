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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Makes a frozen thread of the checkpointed process run system calls: a {@code syscall}
 * instruction is written over the code at its instruction pointer and single-stepped with
 * prepared registers ({@link #callAll} runs many calls from code of their own in one go); the code
 * and registers are put back on {@link #close()}. One area mapped inside the process serves all of it: a scratch
 * page carrying memory arguments (read and written with process_vm_*v) and the pages {@link #callAll} writes its
 * code into; the other threads of the process use it too ({@link #inThread}), each run of theirs one stop and go.
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
    /** The most calls a run can have: each leaves its result in the scratch page (one more: the scratch's mprotect). */
    private static final int MAX_CALLS = SCRATCH_SIZE / 8 - 1;
    /** The code pages after the scratch page: room for a run of {@link #MAX_CALLS} calls and the int3. */
    private static final long CODE_SIZE = ((MAX_CALLS + 1L) * CALL_CODE_BYTES + 1 + SCRATCH_SIZE - 1) / SCRATCH_SIZE * SCRATCH_SIZE;
    private static final long AREA_SIZE = SCRATCH_SIZE + CODE_SIZE;

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
    /** The area in the process, mapped on first use by this thread or by the one that lends it ({@link #inThread}). */
    private final Area area;
    /** Whether this instance mapped {@link #area} and unmaps it on close. */
    private final boolean ownsArea;

    /**
     * The scratch page and code pages inside the process, {@code address} 0 until mapped. They are mapped read and
     * execute (no page is ever writable and executable at once, as MemoryDenyWriteExecute wants); the scratch page is
     * made writable by the first run or call that needs it, code pages are written through /proc/PID/mem.
     */
    private static final class Area {
        long address;
        boolean scratchWritable;
        /** False where the process may not map executable memory (SELinux without execmem): its calls go one by one. */
        boolean executable = true;
    }

    /** Calls in thread {@code tid} of process {@code pid}. */
    public InjectedSyscalls(int pid, int tid, Registers original) {
        this(pid, tid, original, new ProcFs(pid).status());
    }

    /**
     * Calls in thread {@code tid} of process {@code pid}, whose {@code /proc/PID/status} ({@code processStatus}) was read
     * while it was frozen: whether it ignores SIGTRAP is read from it.
     */
    public InjectedSyscalls(int pid, int tid, Registers original, Map<String, String> processStatus) {
        this(pid, tid, original, trapPending(tid) || trapIgnored(processStatus), new Area(), true);
    }

    /** Calls that make no trap whatever is pending: for a thread about to be given a SIGTRAP to keep. */
    public static InjectedSyscalls withoutTraps(int pid, int tid, Registers original) {
        return new InjectedSyscalls(pid, tid, original, true, new Area(), true);
    }

    private InjectedSyscalls(int pid, int tid, Registers original, boolean trapless, Area area, boolean ownsArea) {
        this.pid = pid;
        this.tid = tid;
        this.original = original;
        this.rip = original.get(Registers.RIP);
        this.originalCode = RemoteMemory.readLong(pid, rip);
        this.trapless = trapless;
        this.area = area;
        this.ownsArea = ownsArea;
        this.originalSigmask = Ptrace.getSigmask(tid);
        Ptrace.setSigmask(tid, trapless ? -1L : ALL_BUT_SIGTRAP);
        RemoteMemory.writeLongForced(pid, rip, (originalCode & ~0xffffL) | SYSCALL_INSN);
    }

    /**
     * Calls in another thread {@code tid} of the same process, in this one's area (no mapping of its own): to be closed
     * before this one. A thread whose instruction pointer is this one's sees the {@code syscall} written there and
     * puts it back on close, before this one puts the original back.
     */
    public InjectedSyscalls inThread(int tid, Registers registers) {
        return new InjectedSyscalls(pid, tid, registers, trapless || trapPending(tid), area, false);
    }

    private static boolean trapPending(int tid) {
        return java.util.stream.Stream.of(false, true).flatMap(shared -> Ptrace.pendingSignals(tid, shared).stream())
            .anyMatch(info -> ByteBuffer.wrap(info).order(ByteOrder.LITTLE_ENDIAN).getInt(0) == SIGTRAP);
    }

    /** Whether a process ignores SIGTRAP (SIG_IGN), as its /proc/PID/status says. */
    private static boolean trapIgnored(Map<String, String> processStatus) {
        return (Long.parseUnsignedLong(processStatus.get("SigIgn").trim(), 16) & 1L << SIGTRAP - 1) != 0;
    }

    @Override
    public long call(int nr, long... args) {
        if (area.address != 0) {
            requireScratchWritable();
        }
        return step(nr, args);
    }

    private void requireScratchWritable() {
        if (!area.scratchWritable) {
            area.scratchWritable = true;
            long r = step(Nr.MPROTECT, area.address, SCRATCH_SIZE, Linux.PROT_READ | Linux.PROT_WRITE);
            if (Errno.isError(r)) {
                throw new IllegalStateException("cannot make the scratch page of process " + pid + " writable: errno " + -r);
            }
        }
    }

    /** One system call made by a step at the thread's instruction pointer (two system call stops when trapless). */
    private long step(int nr, long... args) {
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
     * code — per call its arguments loaded, {@code syscall}, the result stored at the end of the scratch page
     * (the first call making that page writable, when it is not yet) — runs from the area's code pages; int3 ends
     * it. A process that may not map executable memory (SELinux without execmem), or a thread with a SIGTRAP pending,
     * has the calls made one by one. The calls must not block.
     */
    public long[] callAll(List<Call> calls) {
        if (calls.size() > MAX_CALLS) {
            throw new IllegalArgumentException(calls.size() + " calls leave no room for their results in the scratch page");
        }
        long scratch = scratch();
        if (trapless || !area.executable) {
            return calls.stream().mapToLong(c -> call(c.nr(), c.args())).toArray();
        }
        List<Call> run = new ArrayList<>();
        if (!area.scratchWritable) {
            run.add(new Call(Nr.MPROTECT, scratch, SCRATCH_SIZE, Linux.PROT_READ | Linux.PROT_WRITE));
        }
        run.addAll(calls);
        long results = scratch + SCRATCH_SIZE - run.size() * 8L;
        ByteBuffer code = ByteBuffer.allocate(run.size() * CALL_CODE_BYTES + 1).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < run.size(); i++) {
            Call c = run.get(i);
            for (int a = 0; a < MOV_ARGUMENT.length; a++) {
                code.put(MOV_ARGUMENT[a]).putLong(a < c.args().length ? c.args()[a] : 0);
            }
            code.put(MOV_EAX).putInt(c.nr()).put(SYSCALL).put(MOV_TO_ADDRESS_RAX).putLong(results + i * 8L);
        }
        code.put(INT3);
        long codePages = scratch + SCRATCH_SIZE;
        RemoteMemory.writeForced(pid, codePages, Arrays.copyOf(code.array(), code.position()));
        Ptrace.setRegisters(tid, original.forSyscall(codePages, 0)); // forSyscall: no system call to restart on the way
        Ptrace.cont(tid, 0);
        awaitTrap("running " + run.size() + " injected syscalls");
        // a failed mprotect leaves the page read-only: storing its result faults, and awaitTrap reports the SIGSEGV
        ByteBuffer out = ByteBuffer.wrap(readScratch(SCRATCH_SIZE - run.size() * 8, run.size() * 8)).order(ByteOrder.LITTLE_ENDIAN);
        long[] r = new long[run.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = out.getLong();
        }
        area.scratchWritable = true;
        return Arrays.copyOfRange(r, run.size() - calls.size(), r.length);
    }

    private void awaitTrap(String what) {
        int status = Ptrace.waitFor(tid);
        // a system call stop reports SIGTRAP, with 0x80 added under PTRACE_O_TRACESYSGOOD
        if (!Ptrace.isStopped(status) || (Ptrace.stopSignal(status) & 0x7f) != SIGTRAP) {
            throw new IllegalStateException("thread " + tid + " " + Ptrace.describeStatus(status) + " " + what);
        }
    }

    /** The address of a page inside the process for memory arguments (the area's first), mapped on first use. */
    public long scratch() {
        if (area.address == 0) {
            long r = step(Nr.MMAP, 0, AREA_SIZE, Linux.PROT_READ | Linux.PROT_EXEC, Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, -1, 0);
            if (Errno.isError(r)) {
                r = step(Nr.MMAP, 0, AREA_SIZE, Linux.PROT_READ | Linux.PROT_WRITE, Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, -1, 0);
                if (Errno.isError(r)) {
                    throw new IllegalStateException("cannot map a scratch page in process " + pid + ": errno " + -r);
                }
                area.scratchWritable = true;
                area.executable = false;
            }
            area.address = r;
        }
        return area.address;
    }

    public byte[] readScratch(int offset, int length) {
        NativeMemory m = NativeMemory.allocate(length);
        RemoteMemory.read(pid, scratch() + offset, m.address(), length);
        return m.bytes(0, length);
    }

    public void writeScratch(int offset, byte[] data) {
        scratch();
        requireScratchWritable();
        NativeMemory m = NativeMemory.allocate(data.length);
        m.put(0, data);
        RemoteMemory.write(pid, scratch() + offset, m.address(), data.length);
    }

    @Override
    public void close() {
        if (ownsArea && area.address != 0) {
            step(Nr.MUNMAP, area.address, AREA_SIZE);
            area.address = 0;
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
