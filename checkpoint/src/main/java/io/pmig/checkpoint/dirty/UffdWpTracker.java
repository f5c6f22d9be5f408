package io.pmig.checkpoint.dirty;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Pagemap;
import io.pmig.checkpoint.nativeio.Userfaultfd;
import io.pmig.checkpoint.ptrace.FrozenProcess;
import io.pmig.checkpoint.ptrace.InjectedSyscalls;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.SyscallException;

import java.util.ArrayList;
import java.util.List;

/**
 * Tracks writes with a userfaultfd in write-protect async mode (shared/FACTS.md): every tracked page
 * is write-protected, the kernel lifts the protection of a page on its first write (no fault reaches
 * anyone), and PAGEMAP_SCAN reports exactly the pages written and protects them again in one call.
 *
 * <p>Mappings are followed: each call re-reads /proc/PID/maps and scans mapping by mapping with
 * PM_SCAN_CHECK_WPASYNC, which fails with EPERM on a mapping not registered with the userfaultfd —
 * one created, moved (mremap drops the registration) or replaced since the previous call. Such a
 * mapping is registered and protected under a freeze (see {@link #written(boolean)}), and reported
 * whole: its pages were never tracked. A mapping that grew (brk, a growing stack) keeps its registration; its new pages are
 * reported when written, as every page whose protection is gone.
 *
 * <p>A userfaultfd belongs to the memory of the process that creates it, so it is created inside the
 * target: frozen with ptrace, the target runs an injected userfaultfd(2); the engine takes a copy of the
 * descriptor (pidfd_getfd) and closes the target's own, so the target holds nothing. Closing the
 * tracker closes the only descriptor left, and the kernel then unregisters every range and drops
 * every protection (userfaultfd_release).
 */
final class UffdWpTracker implements DirtyTracker {
    private static final int REGIONS_PER_SCAN = 4096;

    private final int pid;
    private final int uffd;
    private final int pagemap;
    private boolean closed;

    private UffdWpTracker(int pid, int uffd, int pagemap) {
        this.pid = pid;
        this.uffd = uffd;
        this.pagemap = pagemap;
    }

    static UffdWpTracker start(int pid) {
        FrozenProcess frozen = FrozenProcess.freeze(pid);
        int uffd = -1;
        try {
            List<PageRange> ranges = DirtyTracking.trackedRanges(pid);
            uffd = createInside(pid, frozen);
            Userfaultfd.api(uffd, DirtyTracking.UFFD_FEATURES);
            // protected while frozen: no write can slip between two ranges' protection
            for (PageRange r : ranges) {
                protect(uffd, r);
            }
            return new UffdWpTracker(pid, uffd, Linux.open("/proc/" + pid + "/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0));
        } catch (RuntimeException e) {
            if (uffd >= 0) {
                Linux.close(uffd); // the last reference: the kernel drops what was registered
            }
            throw e instanceof RefusedException ? e : new FailedException("cannot start tracking the writes of process " + pid
                + ": " + e.getMessage() + "; the process runs on untouched", e);
        } finally {
            frozen.thaw();
        }
    }

    /** userfaultfd(2) run by the frozen target; returns the engine's copy, the target's own closed again. */
    private static int createInside(int pid, FrozenProcess frozen) {
        try (InjectedSyscalls target = new InjectedSyscalls(pid, pid, frozen.registers(pid))) {
            long fd = target.call(Nr.USERFAULTFD, DirtyTracking.UFFD_FLAGS);
            if (Errno.isError(fd)) {
                int errno = (int) -fd;
                throw new UntrackableException("process " + pid + " cannot create a userfaultfd for write tracking: "
                    + Errno.describe(errno) + switch (errno) {
                        case Errno.EMFILE -> " (it has as many descriptors open as its RLIMIT_NOFILE allows)";
                        case Errno.EPERM, Errno.ENOSYS -> " (a seccomp filter of the process may forbid userfaultfd(2))";
                        default -> "";
                    });
            }
            int pidfd = Linux.pidfdOpen(pid);
            try {
                return Linux.pidfdGetfd(pidfd, (int) fd);
            } finally {
                Linux.close(pidfd);
                target.call(Nr.CLOSE, fd);
            }
        }
    }

    @Override
    public String method() {
        return DirtyTracking.Method.USERFAULTFD_WP.toString();
    }

    /**
     * One scan of every tracked mapping, lock-free while the process runs. A mapping found unregistered
     * makes a second scan under a freeze, which registers it: registering a range read from maps while
     * the process runs could catch a mapping in the middle of growing (mremap, brk) and split it into a
     * registered and an unregistered part, and a later mremap across the two would fail in the process
     * (EFAULT). Frozen, maps and mappings agree.
     */
    @Override
    public List<PageRange> written(boolean processFrozen) {
        if (closed) {
            throw new IllegalStateException("the write tracker of process " + pid + " is closed");
        }
        PageSet out = new PageSet();
        if (scan(out, false)) {
            return out.ranges();
        }
        FrozenProcess frozen = processFrozen ? null : FrozenProcess.freeze(pid);
        try {
            scan(out, true);
        } finally {
            if (frozen != null) {
                frozen.thaw();
            }
        }
        return out.ranges();
    }

    /**
     * Scans every tracked mapping into {@code out}; a mapping not registered (new, moved or replaced since
     * the last call) is registered, protected and added whole with {@code register}, else the scan stops
     * there and returns false.
     */
    private boolean scan(PageSet out, boolean register) {
        for (PageRange r : DirtyTracking.trackedRanges(pid)) {
            try {
                Pagemap.scan(pagemap, r.start(), r.end(), Pagemap.PM_SCAN_WP_MATCHING | Pagemap.PM_SCAN_CHECK_WPASYNC,
                    Pagemap.PAGE_IS_WRITTEN, REGIONS_PER_SCAN, out::add);
            } catch (SyscallException e) {
                if (e.errno() != Errno.EPERM) {
                    throw e;
                }
                if (!register) {
                    return false;
                }
                if (tryProtect(r)) {
                    out.add(r.start(), r.end());
                }
            }
        }
        return true;
    }

    private static void protect(int uffd, PageRange r) {
        Userfaultfd.register(uffd, r.start(), r.length(), Userfaultfd.UFFDIO_REGISTER_MODE_WP);
        Userfaultfd.writeProtect(uffd, r.start(), r.length(), true);
    }

    /** Registers and protects a mapping found unregistered; false if it is gone by now. */
    private boolean tryProtect(PageRange r) {
        try {
            protect(uffd, r);
            return true;
        } catch (SyscallException e) {
            if (e.errno() == Errno.EINVAL || e.errno() == Errno.ENOMEM) {
                return false;
            }
            throw e;
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Linux.close(pagemap);
            Linux.close(uffd);
        }
    }
}
