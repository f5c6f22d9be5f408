package io.pmig.checkpoint.ptrace;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Ptrace;
import io.pmig.checkpoint.nativeio.Registers;

/**
 * Makes a frozen thread of the checkpointed process run system calls: a {@code syscall}
 * instruction is written over the code at its instruction pointer and single-stepped with
 * prepared registers; the code and registers are put back on {@link #close()}. A scratch page
 * mapped inside the process carries memory arguments, read and written with process_vm_*v.
 * Signals stay blocked meanwhile: a signal pending at a single-step would be delivered instead
 * of the syscall running (timers keep firing while a process is frozen).
 */
public final class InjectedSyscalls implements RemoteSyscalls, AutoCloseable {
    private static final long SYSCALL_INSN = 0x050fL; // 0f 05
    private static final int SIGTRAP = 5;
    public static final int SCRATCH_SIZE = 4096;

    private final int pid;
    private final int tid;
    private final Registers original;
    private final long rip;
    private final long originalCode;
    private final long originalSigmask;
    private long scratch;

    public InjectedSyscalls(int pid, int tid, Registers original) {
        this.pid = pid;
        this.tid = tid;
        this.original = original;
        this.rip = original.get(Registers.RIP);
        this.originalCode = RemoteMemory.readLong(pid, rip);
        this.originalSigmask = Ptrace.getSigmask(tid);
        Ptrace.setSigmask(tid, -1L);
        RemoteMemory.writeLongForced(pid, rip, (originalCode & ~0xffffL) | SYSCALL_INSN);
    }

    @Override
    public long call(int nr, long... args) {
        Ptrace.setRegisters(tid, original.forSyscall(rip, nr, args));
        Ptrace.singleStep(tid);
        int status = Ptrace.waitFor(tid);
        if (!Ptrace.isStopped(status) || Ptrace.stopSignal(status) != SIGTRAP) {
            throw new IllegalStateException("thread " + tid + " " + Ptrace.describeStatus(status) + " during an injected syscall " + nr);
        }
        return Ptrace.getRegisters(tid).get(Registers.RAX);
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
        Ptrace.setSigmask(tid, originalSigmask);
    }
}
