package io.pmig.checkpoint.dirty;

import io.pmig.checkpoint.memory.MemoryDumper;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Pagemap;
import io.pmig.checkpoint.nativeio.Userfaultfd;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

import java.util.ArrayList;
import java.util.List;

/**
 * Which way this kernel can track written pages, and a tracker started that way. Soft-dirty
 * (CONFIG_MEM_SOFT_DIRTY) where the kernel has it, as CRIU does; else a userfaultfd in write-protect
 * async mode read with PAGEMAP_SCAN (Linux 6.7+), exact and re-armed in the same call; else none, and
 * a migration falls back to bundle mode.
 */
public final class DirtyTracking {
    public enum Method {
        SOFT_DIRTY("soft-dirty"),
        USERFAULTFD_WP("userfaultfd write-protect"),
        NONE("none");

        private final String label;

        Method(String label) {
            this.label = label;
        }

        @Override
        public String toString() {
            return label;
        }
    }

    static final long UFFD_FEATURES = Userfaultfd.UFFD_FEATURE_WP_ASYNC | Userfaultfd.UFFD_FEATURE_WP_UNPOPULATED
        | Userfaultfd.UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
    /** Flags of userfaultfd(2): user-mode-only, so that a service without privileges can be tracked too. */
    static final long UFFD_FLAGS = Linux.O_CLOEXEC | Linux.O_NONBLOCK | Userfaultfd.UFFD_USER_MODE_ONLY;
    private static volatile Method available;

    private DirtyTracking() {
    }

    /** The method this kernel offers, probed once in this (the engine's) process. */
    public static Method available() {
        Method m = available;
        if (m == null) {
            m = softDirtyWorks() ? Method.SOFT_DIRTY : userfaultfdWpWorks() ? Method.USERFAULTFD_WP : Method.NONE;
            available = m;
        }
        return m;
    }

    /** Starts tracking process {@code pid}, which must be running and not traced by the caller. */
    public static DirtyTracker start(int pid) {
        return start(pid, available());
    }

    /** Starts tracking with a chosen method (tests compare them); refuses one this kernel lacks. */
    public static DirtyTracker start(int pid, Method method) {
        return switch (method) {
            case SOFT_DIRTY -> SoftDirtyTracker.start(pid);
            case USERFAULTFD_WP -> UffdWpTracker.start(pid);
            case NONE -> throw new UntrackableException("this kernel cannot track written pages (no soft-dirty, no "
                + "userfaultfd write-protect with PAGEMAP_SCAN, which needs Linux 6.7+): only bundle mode works here");
        };
    }

    /**
     * The mappings whose pages an image stores (anonymous, shared anonymous, private file); shared file
     * mappings and the kernel's own never go into one. From /proc/PID/maps alone, which is cheap: smaps
     * would walk every page table.
     */
    static List<PageRange> trackedRanges(int pid) {
        List<PageRange> out = new ArrayList<>();
        for (MapsEntry e : new ProcFs(pid).maps()) {
            boolean sharedFile = e.shared() && e.fileBacked() && !e.path().startsWith("/dev/zero");
            if (!e.kernelSpecial() && !sharedFile) {
                out.add(new PageRange(e.start(), e.end()));
            }
        }
        return out;
    }

    /** Merges adjacent runs as they come in ascending order. */
    static void addMerged(List<PageRange> runs, long start, long end) {
        int last = runs.size() - 1;
        if (last >= 0 && runs.get(last).end() == start) {
            runs.set(last, new PageRange(runs.get(last).start(), end));
        } else {
            runs.add(new PageRange(start, end));
        }
    }

    /** A page of our own, written after it was mapped, shows the soft-dirty bit only if the kernel tracks it. */
    private static boolean softDirtyWorks() {
        long page = Syscall.call("mmap(probe)", Nr.MMAP, 0, MemoryDumper.PAGE, Linux.PROT_READ | Linux.PROT_WRITE,
            Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, -1, 0);
        int zero = Linux.open("/dev/zero", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        int pagemap = Linux.open("/proc/self/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            Linux.read(zero, page, MemoryDumper.PAGE); // the kernel writes the page: present, dirty
            NativeMemory entry = NativeMemory.allocate(8);
            Syscall.call("pread(/proc/self/pagemap)", Nr.PREAD64, pagemap, entry.address(), 8, page / MemoryDumper.PAGE * 8);
            return (entry.getLong(0) & Pagemap.PM_SOFT_DIRTY) != 0;
        } finally {
            Linux.close(pagemap);
            Linux.close(zero);
            Syscall.call("munmap(probe)", Nr.MUNMAP, page, MemoryDumper.PAGE);
        }
    }

    /** A userfaultfd of our own accepts the write-protect async features, and pagemap knows PAGEMAP_SCAN. */
    private static boolean userfaultfdWpWorks() {
        int uffd;
        try {
            uffd = (int) Syscall.call("userfaultfd", Nr.USERFAULTFD, UFFD_FLAGS);
        } catch (SyscallException e) {
            return false;
        }
        int pagemap = Linux.open("/proc/self/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            Userfaultfd.api(uffd, UFFD_FEATURES);
            Pagemap.scan(pagemap, 0, MemoryDumper.PAGE, 0, Pagemap.PAGE_IS_WRITTEN, 1, (s, e) -> { });
            return true;
        } catch (SyscallException | IllegalStateException e) {
            return false;
        } finally {
            Linux.close(pagemap);
            Linux.close(uffd);
        }
    }
}
