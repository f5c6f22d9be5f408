package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;
import io.pmig.checkpoint.ptrace.RemoteMemory;

/**
 * The page frame of the kernel's shared zero page. A private page that was only ever read maps
 * it: present in pagemap, yet never written, so the image need not store it.
 */
final class ZeroPage {
    private static final long PFN_MASK = (1L << 55) - 1;
    private static final long PFN = probe();

    private ZeroPage() {
    }

    /** The zero page's frame number, or -1 where pagemap hides frame numbers (not root). */
    static long pfn() {
        return PFN;
    }

    private static long probe() {
        int self = (int) ProcessHandle.current().pid();
        long page = Syscall.call("mmap(probe page)", Nr.MMAP, 0, MemoryDumper.PAGE, Linux.PROT_READ, Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS, -1, 0);
        int pagemap = -1;
        try {
            NativeMemory one = NativeMemory.allocate(8);
            RemoteMemory.read(self, page, one.address(), 1); // a read fault maps the zero page
            pagemap = Linux.open("/proc/self/pagemap", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
            Syscall.call("pread(/proc/self/pagemap)", Nr.PREAD64, pagemap, one.address(), 8, page / MemoryDumper.PAGE * 8);
            long pfn = one.getLong(0) & PFN_MASK;
            return pfn == 0 ? -1 : pfn;
        } finally {
            if (pagemap >= 0) {
                Linux.close(pagemap);
            }
            Syscall.call("munmap(probe page)", Nr.MUNMAP, page, MemoryDumper.PAGE);
        }
    }
}
