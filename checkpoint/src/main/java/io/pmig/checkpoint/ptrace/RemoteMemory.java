package io.pmig.checkpoint.ptrace;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.checkpoint.nativeio.Nr;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Another process's memory by virtual address: process_vm_readv/writev for data (fast, but
 * bound by the mapping's protection) and /proc/PID/mem for code (writes through read-only text,
 * as a debugger does).
 */
public final class RemoteMemory {
    private RemoteMemory() {
    }

    public static void read(int pid, long remote, long local, long length) {
        transfer(pid, remote, local, length, false);
    }

    public static void write(int pid, long remote, long local, long length) {
        transfer(pid, remote, local, length, true);
    }

    private static void transfer(int pid, long remote, long local, long length, boolean write) {
        NativeMemory iov = NativeMemory.allocate(32);
        long done = 0;
        while (done < length) {
            iov.putLong(0, local + done);
            iov.putLong(8, length - done);
            iov.putLong(16, remote + done);
            iov.putLong(24, length - done);
            long n = write
                ? Linux.processVmWritev(pid, iov.address(), 1, iov.address() + 16, 1)
                : Linux.processVmReadv(pid, iov.address(), 1, iov.address() + 16, 1);
            if (n <= 0) {
                throw new IllegalStateException((write ? "writing" : "reading") + " process " + pid + " memory at 0x"
                    + Long.toHexString(remote + done) + " moved no bytes");
            }
            done += n;
        }
    }

    /**
     * Reads through /proc/PID/mem, which leaves a page the process shares copy-on-write shared: process_vm_readv pins
     * what it reads, and the kernel (5.19 on) unshares an anonymous page pinned even for reading (it copies it).
     */
    public static void readLeavingShared(int pid, long remote, long local, long length) {
        int fd = Linux.open("/proc/" + pid + "/mem", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            long done = 0;
            while (done < length) {
                long n = Syscall.call("pread(/proc/" + pid + "/mem)", Nr.PREAD64, fd, local + done, length - done, remote + done);
                if (n <= 0) {
                    throw new IllegalStateException("reading process " + pid + " memory at 0x" + Long.toHexString(remote + done)
                        + " through /proc/" + pid + "/mem moved no bytes");
                }
                done += n;
            }
        } finally {
            Linux.close(fd);
        }
    }

    public static long readLong(int pid, long remote) {
        NativeMemory m = NativeMemory.allocate(8);
        int fd = Linux.open("/proc/" + pid + "/mem", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            Syscall.call("pread(/proc/" + pid + "/mem)", Nr.PREAD64, fd, m.address(), 8, remote);
        } finally {
            Linux.close(fd);
        }
        return m.getLong(0);
    }

    public static void writeLongForced(int pid, long remote, long value) {
        writeForced(pid, remote, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value).array());
    }

    /** Writes {@code bytes} whatever the mapping's protection (code), through /proc/PID/mem. */
    public static void writeForced(int pid, long remote, byte[] bytes) {
        NativeMemory m = NativeMemory.allocate(bytes.length);
        m.put(0, bytes);
        int fd = Linux.open("/proc/" + pid + "/mem", Linux.O_RDWR | Linux.O_CLOEXEC, 0);
        try {
            long n = Syscall.call("pwrite(/proc/" + pid + "/mem)", Nr.PWRITE64, fd, m.address(), bytes.length, remote);
            if (n != bytes.length) {
                throw new IllegalStateException("writing process " + pid + " memory at 0x" + Long.toHexString(remote) + " moved "
                    + n + " of " + bytes.length + " bytes");
            }
        } finally {
            Linux.close(fd);
        }
    }
}
