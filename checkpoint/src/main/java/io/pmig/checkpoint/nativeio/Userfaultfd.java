package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/**
 * userfaultfd ioctls and their structs, as in linux/userfaultfd.h (ioctl numbers from the _IOWR/_IOR
 * macros of asm-generic/ioctl.h). Used in write-protect async mode: the kernel itself lifts the
 * protection of a page on its first write, and PAGEMAP_SCAN ({@link Pagemap}) finds those pages.
 */
public final class Userfaultfd {
    public static final long UFFD_API = 0xAA;
    /**
     * UFFD_USER_MODE_ONLY, a flag of userfaultfd(2): lets a process without CAP_SYS_PTRACE create one
     * while vm.unprivileged_userfaultfd is 0 (the default). Write-protect async mode never delivers a
     * fault, so the kernel's own writes into protected pages are still recorded.
     */
    public static final long UFFD_USER_MODE_ONLY = 1;
    /** UFFD_FEATURE_WP_HUGETLBFS_SHMEM: write-protect shmem (shared anonymous) and hugetlbfs too. */
    public static final long UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1L << 12;
    /** UFFD_FEATURE_WP_UNPOPULATED: pages never touched are protected too (a PTE marker), so their first write counts. */
    public static final long UFFD_FEATURE_WP_UNPOPULATED = 1L << 13;
    /** UFFD_FEATURE_WP_ASYNC: a write to a protected page unprotects it without waking anyone. */
    public static final long UFFD_FEATURE_WP_ASYNC = 1L << 15;
    /** UFFD_FEATURE_EVENT_FORK: a fork of a registered process is reported, with a new userfaultfd for the child. */
    public static final long UFFD_FEATURE_EVENT_FORK = 1L << 1;
    /** UFFD_FEATURE_EVENT_REMAP: an mremap of a registered range is reported (and the range stays registered). */
    public static final long UFFD_FEATURE_EVENT_REMAP = 1L << 2;
    /** UFFD_FEATURE_EVENT_REMOVE: MADV_DONTNEED/MADV_REMOVE of a registered range is reported. */
    public static final long UFFD_FEATURE_EVENT_REMOVE = 1L << 3;
    /** UFFD_FEATURE_EVENT_UNMAP: munmap (and a mapping replacing) a registered range is reported. */
    public static final long UFFD_FEATURE_EVENT_UNMAP = 1L << 6;
    /** UFFDIO_REGISTER_MODE_MISSING: a touch of a page not present waits for the reader to fill it. */
    public static final long UFFDIO_REGISTER_MODE_MISSING = 1L << 0;
    public static final long UFFDIO_REGISTER_MODE_WP = 1L << 1;
    public static final long UFFDIO_WRITEPROTECT_MODE_WP = 1L << 0;
    /** _IOWR(0xAA, 0x3F, struct uffdio_api): 24 bytes. */
    private static final long UFFDIO_API = 0xC018AA3FL;
    /** _IOWR(0xAA, 0x00, struct uffdio_register): 32 bytes. */
    private static final long UFFDIO_REGISTER = 0xC020AA00L;
    /** _IOR(0xAA, 0x01, struct uffdio_range): 16 bytes. */
    private static final long UFFDIO_UNREGISTER = 0x8010AA01L;
    /** _IOWR(0xAA, 0x06, struct uffdio_writeprotect): 24 bytes. */
    private static final long UFFDIO_WRITEPROTECT = 0xC018AA06L;
    /** _IOR(0xAA, 0x02, struct uffdio_range): 16 bytes. */
    private static final long UFFDIO_WAKE = 0x8010AA02L;
    /** _IOWR(0xAA, 0x03, struct uffdio_copy): 40 bytes. */
    private static final long UFFDIO_COPY = 0xC028AA03L;
    /** _IOWR(0xAA, 0x04, struct uffdio_zeropage): 32 bytes. */
    private static final long UFFDIO_ZEROPAGE = 0xC020AA04L;
    /** sizeof(struct uffd_msg): what read(2) of a userfaultfd returns per event. */
    public static final int MSG_SIZE = 32;
    /** uffd_msg.event values. */
    public static final int EVENT_PAGEFAULT = 0x12;
    public static final int EVENT_FORK = 0x13;
    public static final int EVENT_REMAP = 0x14;
    public static final int EVENT_REMOVE = 0x15;
    public static final int EVENT_UNMAP = 0x16;
    /** Offsets in struct uffd_msg: the event byte, then the union arg at 8 (pagefault: flags, address; fork: ufd;
     *  remap: from, to, len; remove/unmap: start, end). */
    public static final int MSG_EVENT = 0;
    public static final int MSG_ARG = 8;

    private Userfaultfd() {
    }

    /** UFFDIO_API handshake asking for {@code features}; returns the features the kernel has (struct uffdio_api.features). */
    public static long api(int uffd, long features) {
        // struct uffdio_api { __u64 api; __u64 features; __u64 ioctls; }
        NativeMemory m = NativeMemory.allocate(24);
        m.putLong(0, UFFD_API);
        m.putLong(8, features);
        Syscall.call("ioctl(UFFDIO_API)", Nr.IOCTL, uffd, UFFDIO_API, m.address());
        return m.getLong(8);
    }

    /** UFFDIO_REGISTER of [start, start+length) in {@code mode}. */
    public static void register(int uffd, long start, long length, long mode) {
        // struct uffdio_register { struct uffdio_range { __u64 start; __u64 len; } range; __u64 mode; __u64 ioctls; }
        NativeMemory m = NativeMemory.allocate(32);
        m.putLong(0, start);
        m.putLong(8, length);
        m.putLong(16, mode);
        Syscall.call("ioctl(UFFDIO_REGISTER 0x" + Long.toHexString(start) + ")", Nr.IOCTL, uffd, UFFDIO_REGISTER, m.address());
    }

    /** UFFDIO_UNREGISTER of [start, start+length); the kernel drops the write protection of the range with it. */
    public static void unregister(int uffd, long start, long length) {
        NativeMemory m = NativeMemory.allocate(16);
        m.putLong(0, start);
        m.putLong(8, length);
        Syscall.call("ioctl(UFFDIO_UNREGISTER 0x" + Long.toHexString(start) + ")", Nr.IOCTL, uffd, UFFDIO_UNREGISTER, m.address());
    }

    /** UFFDIO_WRITEPROTECT: protect ({@code protect}) or unprotect [start, start+length). */
    public static void writeProtect(int uffd, long start, long length, boolean protect) {
        // struct uffdio_writeprotect { struct uffdio_range range; __u64 mode; }
        NativeMemory m = NativeMemory.allocate(24);
        m.putLong(0, start);
        m.putLong(8, length);
        m.putLong(16, protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0);
        Syscall.call("ioctl(UFFDIO_WRITEPROTECT 0x" + Long.toHexString(start) + ")", Nr.IOCTL, uffd, UFFDIO_WRITEPROTECT, m.address());
    }

    /**
     * UFFDIO_COPY of {@code length} bytes at {@code local} into the registered, missing [dst, dst+length), waking whoever
     * waits on it. Returns the bytes copied, or -errno if none was (EEXIST: a page is present already; EAGAIN: the layout
     * is changing, an event waits to be read; ENOENT/ESRCH: the range or the process is gone); a partial copy returns
     * its length.
     */
    public static long copy(int uffd, long dst, long local, long length) {
        // struct uffdio_copy { __u64 dst; __u64 src; __u64 len; __u64 mode; __s64 copy; }
        NativeMemory m = NativeMemory.allocate(40);
        m.putLong(0, dst);
        m.putLong(8, local);
        m.putLong(16, length);
        m.putLong(24, 0);
        long r = Syscall.tryCall(Nr.IOCTL, uffd, UFFDIO_COPY, m.address());
        long copied = m.getLong(32);
        return r == 0 ? length : copied > 0 ? copied : r;
    }

    /** UFFDIO_ZEROPAGE of [start, start+length); 0 or -errno as {@link #copy}. */
    public static long zeropage(int uffd, long start, long length) {
        // struct uffdio_zeropage { struct uffdio_range range; __u64 mode; __s64 zeropage; }
        NativeMemory m = NativeMemory.allocate(32);
        m.putLong(0, start);
        m.putLong(8, length);
        return Syscall.tryCall(Nr.IOCTL, uffd, UFFDIO_ZEROPAGE, m.address());
    }

    /** UFFDIO_WAKE of [start, start+length): the threads waiting there fault again. */
    public static void wake(int uffd, long start, long length) {
        NativeMemory m = NativeMemory.allocate(16);
        m.putLong(0, start);
        m.putLong(8, length);
        Syscall.tryCall(Nr.IOCTL, uffd, UFFDIO_WAKE, m.address());
    }
}
