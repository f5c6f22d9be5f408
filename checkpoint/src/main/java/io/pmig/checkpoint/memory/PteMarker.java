package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Userfaultfd;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

/**
 * A PTE marker: a page table entry that holds no page, only a note — here the write protection a
 * userfaultfd keeps on a page never touched, or discarded since (UFFD_FEATURE_WP_UNPOPULATED; a
 * pre-copy's write tracker sets it on every tracked page). Pagemap and PAGEMAP_SCAN count such a page as
 * swapped out, yet it holds nothing an image stores: it reads as zeros, or as the file in a file
 * mapping. Markers carry a swap type of their own (SWP_PTE_MARKER, which depends on the kernel's
 * configuration), probed once with a marker made in this process.
 */
final class PteMarker {
    private static final long PM_SWAPPED = 1L << 62;
    private static final long PM_FRAME = (1L << 55) - 1;
    /** Bits 0-4 of a swapped page's entry (Documentation/admin-guide/mm/pagemap.rst). */
    private static final long SWAP_TYPE = 0x1f;
    private static final long TYPE = probe();

    private PteMarker() {
    }

    /** Whether a pagemap entry is a PTE marker; false for all where the probe could not tell (no userfaultfd, frames hidden). */
    static boolean is(long entry) {
        return TYPE >= 0 && (entry & PM_SWAPPED) != 0 && (entry & SWAP_TYPE) == TYPE;
    }

    private static long probe() {
        long page = Syscall.call("mmap(probe page)", Nr.MMAP, 0, MemoryDumper.PAGE, Linux.PROT_READ | Linux.PROT_WRITE,
            Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, -1, 0);
        int uffd = -1;
        int pagemap = -1;
        try {
            uffd = (int) Syscall.call("userfaultfd", Nr.USERFAULTFD, Linux.O_CLOEXEC | Linux.O_NONBLOCK);
            Userfaultfd.api(uffd, Userfaultfd.UFFD_FEATURE_WP_ASYNC | Userfaultfd.UFFD_FEATURE_WP_UNPOPULATED);
            Userfaultfd.register(uffd, page, MemoryDumper.PAGE, Userfaultfd.UFFDIO_REGISTER_MODE_WP);
            Userfaultfd.writeProtect(uffd, page, MemoryDumper.PAGE, true); // never touched: a marker
            pagemap = Linux.open("/proc/self/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
            NativeMemory entry = NativeMemory.allocate(8);
            Syscall.call("pread(/proc/self/pagemap)", Nr.PREAD64, pagemap, entry.address(), 8, page / MemoryDumper.PAGE * 8);
            long e = entry.getLong(0);
            // a frame of 0 is how pagemap hides it (not root): swap type 0 is then no sign of a marker
            return (e & PM_SWAPPED) == 0 || (e & PM_FRAME) == 0 ? -1 : e & SWAP_TYPE;
        } catch (SyscallException | IllegalStateException e) {
            return -1; // no userfaultfd write protection here: no markers of ours either
        } finally {
            if (pagemap >= 0) {
                Linux.close(pagemap);
            }
            if (uffd >= 0) {
                Linux.close(uffd);
            }
            Syscall.call("munmap(probe page)", Nr.MUNMAP, page, MemoryDumper.PAGE);
        }
    }
}
