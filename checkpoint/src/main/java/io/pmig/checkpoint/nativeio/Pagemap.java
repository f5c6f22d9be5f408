package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/**
 * /proc/PID/pagemap: the PAGEMAP_SCAN ioctl with struct pm_scan_arg and struct page_region, as in
 * linux/fs.h (Linux 6.7+), and the bits of a pagemap entry (Documentation/admin-guide/mm/pagemap.rst).
 */
public final class Pagemap {
    /** Entry bit 55: the page was written since the last clear_refs soft-dirty reset (CONFIG_MEM_SOFT_DIRTY). */
    public static final long PM_SOFT_DIRTY = 1L << 55;
    /** Entry bit 57: the page is write-protected by a userfaultfd. */
    public static final long PM_UFFD_WP = 1L << 57;
    public static final long PM_SCAN_WP_MATCHING = 1L << 0;
    public static final long PM_SCAN_CHECK_WPASYNC = 1L << 1;
    public static final long PAGE_IS_WPALLOWED = 1L << 0;
    public static final long PAGE_IS_WRITTEN = 1L << 1;
    public static final long PAGE_IS_FILE = 1L << 2;
    public static final long PAGE_IS_PRESENT = 1L << 3;
    public static final long PAGE_IS_SWAPPED = 1L << 4;
    public static final long PAGE_IS_PFNZERO = 1L << 5;
    /** What an ioctl the file does not know fails with (asm-generic/errno-base.h): PAGEMAP_SCAN before Linux 6.7. */
    public static final int ENOTTY = 25;
    /** _IOWR('f', 16, struct pm_scan_arg): 96 bytes. */
    private static final long PAGEMAP_SCAN = 0xC0606610L;
    private static final int PM_SCAN_ARG_SIZE = 96;
    private static final int PAGE_REGION_SIZE = 24;
    /**
     * Each thread's argument and result buffer, kept from one scan to the next: callers scan once per mapping, hundreds
     * of times a process, and a fresh result buffer (96 KiB, zeroed) each time cost more than the walks themselves.
     */
    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(() -> new Buffers(0));

    private Pagemap() {
    }

    /** A scan's struct pm_scan_arg and room for {@code regions} struct page_region. */
    private record Buffers(int regions, NativeMemory vec, NativeMemory arg) {
        Buffers(int regions) {
            this(regions, NativeMemory.allocate(Math.max(1L, (long) regions * PAGE_REGION_SIZE)), NativeMemory.allocate(PM_SCAN_ARG_SIZE));
        }

        /** This thread's buffers, grown to {@code regions} if they are smaller. */
        static Buffers atLeast(int regions) {
            Buffers kept = BUFFERS.get();
            if (kept.regions() < regions) {
                kept = new Buffers(regions);
                BUFFERS.set(kept);
            }
            return kept;
        }
    }

    /** Receives one run [start, end) of pages a scan found; scans nothing itself (the scan's buffers are its thread's). */
    @FunctionalInterface
    public interface RegionSink {
        void accept(long start, long end);
    }

    /** Receives one run [start, end) of pages that share {@code categories} (PAGE_IS_* bits, those asked for); scans nothing itself. */
    @FunctionalInterface
    public interface CategorizedRegionSink {
        void accept(long start, long end, long categories);
    }

    /**
     * PAGEMAP_SCAN over [start, end) of the process whose pagemap {@code pagemapFd} is: every run of
     * pages in category {@code category} goes to {@code region} as (start, end), {@code regions} runs
     * per call until the range is walked. With {@code flags} PM_SCAN_WP_MATCHING the pages found are
     * write-protected again in the same walk.
     */
    public static void scan(int pagemapFd, long start, long end, long flags, long category, int regions, RegionSink region) {
        scan(pagemapFd, start, end, flags, 0, category, 0, category, regions, (s, e, c) -> region.accept(s, e));
    }

    /**
     * The pages of [start, end) in any of the categories {@code anyOf}, the bits of {@code inverted} flipped
     * first (inverted = PRESENT counts the pages not present), in runs alike in the categories of
     * {@code returned}, each run with those of its own (as the kernel has them, not flipped): one walk of
     * the page tables that answers what several single-category scans would.
     */
    public static void scanAnyOf(int pagemapFd, long start, long end, long inverted, long anyOf, long returned, int regions,
                                 CategorizedRegionSink region) {
        scan(pagemapFd, start, end, 0, inverted, 0, anyOf, returned, regions, region);
    }

    /** {@code all}: categories a page must all have, {@code anyOf}: of which it must have one (after {@code inverted}). */
    private static void scan(int pagemapFd, long start, long end, long flags, long inverted, long all, long anyOf, long returned,
                             int regions, CategorizedRegionSink region) {
        Buffers buffers = Buffers.atLeast(regions);
        NativeMemory vec = buffers.vec();
        NativeMemory arg = buffers.arg();
        long at = start;
        while (at < end) {
            // struct pm_scan_arg { size, flags, start, end, walk_end, vec, vec_len, max_pages,
            //                      category_inverted, category_mask, category_anyof_mask, return_mask } (all __u64)
            arg.putLong(0, PM_SCAN_ARG_SIZE);
            arg.putLong(8, flags);
            arg.putLong(16, at);
            arg.putLong(24, end);
            arg.putLong(32, 0);
            arg.putLong(40, vec.address());
            arg.putLong(48, regions);
            arg.putLong(56, 0);
            arg.putLong(64, inverted);
            arg.putLong(72, all);
            arg.putLong(80, anyOf);
            arg.putLong(88, returned);
            long found = Syscall.call("ioctl(PAGEMAP_SCAN 0x" + Long.toHexString(at) + ")", Nr.IOCTL, pagemapFd, PAGEMAP_SCAN, arg.address());
            for (int i = 0; i < found; i++) {
                // struct page_region { __u64 start; __u64 end; __u64 categories; }
                long entry = (long) i * PAGE_REGION_SIZE;
                region.accept(vec.getLong(entry), vec.getLong(entry + 8), vec.getLong(entry + 16));
            }
            long walkEnd = arg.getLong(32);
            if (walkEnd <= at) {
                throw new IllegalStateException("PAGEMAP_SCAN made no progress at 0x" + Long.toHexString(at));
            }
            at = walkEnd;
        }
    }
}
