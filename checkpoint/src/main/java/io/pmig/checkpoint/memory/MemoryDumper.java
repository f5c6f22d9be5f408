package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageWriter;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Syscall;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads the address space of a frozen process: its mappings, and the pages worth storing
 * (found in /proc/PID/pagemap), copied by virtual address into the image.
 */
public final class MemoryDumper {
    public static final int PAGE = 4096;
    private static final long PM_PRESENT = 1L << 63;
    private static final long PM_SWAPPED = 1L << 62;
    private static final long PM_FILE_OR_SHARED = 1L << 61;
    private static final long PM_PFN = (1L << 55) - 1;
    private static final int BUFFER_BYTES = 4 << 20;
    private static final int IOV_MAX = 1024;

    private final ProcFs proc;
    private long pagesStored;

    public MemoryDumper(ProcFs proc) {
        this.proc = proc;
    }

    /** The mappings of the process; refuses, naming it, a mapping this engine cannot restore. */
    public List<MappingImage> mappings() {
        Map<Long, String> vmFlags = vmFlagsByStart();
        List<MappingImage> out = new ArrayList<>();
        for (MapsEntry e : proc.maps()) {
            if (e.path().equals("[vsyscall]")) {
                continue;
            }
            int prot = (e.readable() ? Linux.PROT_READ : 0) | (e.writable() ? Linux.PROT_WRITE : 0) | (e.executable() ? Linux.PROT_EXEC : 0);
            boolean growsDown = vmFlags.getOrDefault(e.start(), "").contains(" gd");
            out.add(new MappingImage(e.start(), e.end(), prot, e.shared(), growsDown, backingOf(e), e.path(),
                e.offset(), e.fileBacked() && !e.path().endsWith(" (deleted)") ? FileIdentity.of(Path.of(e.path())) : null));
        }
        return out;
    }

    private MappingImage.Backing backingOf(MapsEntry e) {
        String where = "mapping " + Long.toHexString(e.start()) + "-" + Long.toHexString(e.end()) + " of process " + proc.pid();
        if (e.kernelSpecial()) {
            return MappingImage.Backing.KERNEL;
        }
        if (e.shared() && e.path().startsWith("/dev/zero")) {
            return MappingImage.Backing.SHARED_ANONYMOUS;
        }
        if (e.path().startsWith("/SYSV")) {
            throw new RefusedException(where + " is System V shared memory (" + e.path() + "), which is not supported yet");
        }
        if (e.path().startsWith("/memfd:")) {
            throw new RefusedException(where + " is a memfd (" + e.path() + "), which is not supported yet");
        }
        if (e.path().endsWith(" (deleted)")) {
            throw new RefusedException(where + " maps a deleted file (" + e.path() + "); restore re-opens files by path, "
                + "so the file must exist");
        }
        if (e.fileBacked()) {
            return MappingImage.Backing.FILE;
        }
        if (e.inode() != 0) {
            throw new RefusedException(where + " maps " + e.path() + ", a kind of mapping not supported yet");
        }
        return MappingImage.Backing.ANONYMOUS;
    }

    private Map<Long, String> vmFlagsByStart() {
        Map<Long, String> out = new java.util.HashMap<>();
        long current = -1;
        for (String line : proc.read("smaps").split("\n")) {
            if (!line.isEmpty() && Character.digit(line.charAt(0), 16) >= 0 && line.indexOf('-') > 0 && line.indexOf(' ') > line.indexOf('-')) {
                current = Long.parseUnsignedLong(line.substring(0, line.indexOf('-')), 16);
            } else if (line.startsWith("VmFlags:")) {
                out.put(current, line.substring(8) + " ");
            }
        }
        return out;
    }

    /** Copies every page worth storing into the image; returns the number of pages stored. */
    public long writePages(List<MappingImage> mappings, ImageWriter writer) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long bufferAddress = NativeMemory.addressOf(buffer);
        NativeMemory iov = NativeMemory.allocate(IOV_MAX * 32L);
        int pagemap = Linux.open(proc.path("pagemap").toString(), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        int mem = Linux.open(proc.path("mem").toString(), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            Batch batch = new Batch(buffer, bufferAddress, iov, writer, mem);
            for (MappingImage m : mappings) {
                if (!storesPages(m)) {
                    continue;
                }
                long[] entries = pagemapEntries(pagemap, m);
                boolean anonOnly = m.backing() == MappingImage.Backing.FILE;
                boolean readable = (m.prot() & Linux.PROT_READ) != 0;
                int i = 0;
                while (i < entries.length) {
                    if (!worthStoring(entries[i], anonOnly)) {
                        i++;
                        continue;
                    }
                    int j = i;
                    while (j < entries.length && worthStoring(entries[j], anonOnly)) {
                        j++;
                    }
                    batch.add(m.start() + (long) i * PAGE, j - i, readable);
                    i = j;
                }
            }
            batch.flush();
            return pagesStored;
        } finally {
            Linux.close(pagemap);
            Linux.close(mem);
        }
    }

    private static boolean storesPages(MappingImage m) {
        return switch (m.backing()) {
            case ANONYMOUS, SHARED_ANONYMOUS -> true;
            case FILE -> !m.shared();
            case KERNEL -> false;
        };
    }

    /** Written pages: present (but not the shared zero page) or swapped out; for file mappings only the copied ones. */
    private static boolean worthStoring(long entry, boolean anonymousOnly) {
        if ((entry & PM_SWAPPED) != 0) {
            return true;
        }
        return (entry & PM_PRESENT) != 0 && (!anonymousOnly || (entry & PM_FILE_OR_SHARED) == 0)
            && (entry & PM_PFN) != ZeroPage.pfn();
    }

    private static long[] pagemapEntries(int pagemap, MappingImage m) {
        int pages = (int) (m.length() / PAGE);
        NativeMemory raw = NativeMemory.allocate(pages * 8L);
        long done = 0;
        long want = pages * 8L;
        while (done < want) {
            long n = Syscall.call("pread(pagemap)", Nr.PREAD64, pagemap, raw.address() + done, want - done, m.start() / PAGE * 8 + done);
            if (n == 0) {
                break;
            }
            done += n;
        }
        long[] out = new long[pages];
        for (int i = 0; i < pages; i++) {
            out[i] = raw.getLong(i * 8L);
        }
        return out;
    }

    /** Gathers page runs into one buffer, reads them with one process_vm_readv, writes them out. */
    private final class Batch {
        private final ByteBuffer buffer;
        private final long bufferAddress;
        private final NativeMemory iov;
        private final ImageWriter writer;
        private final int mem;
        private final List<long[]> runs = new ArrayList<>();
        private long used;

        Batch(ByteBuffer buffer, long bufferAddress, NativeMemory iov, ImageWriter writer, int mem) {
            this.buffer = buffer;
            this.bufferAddress = bufferAddress;
            this.iov = iov;
            this.writer = writer;
            this.mem = mem;
        }

        void add(long address, int pages, boolean readable) throws IOException {
            long remaining = (long) pages * PAGE;
            while (remaining > 0) {
                if (used == BUFFER_BYTES || runs.size() == IOV_MAX) {
                    flush();
                }
                long take = Math.min(remaining, BUFFER_BYTES - used);
                if (readable) {
                    runs.add(new long[] {address, take, used});
                } else {
                    // process_vm_readv honours PROT_NONE; /proc/PID/mem reads through it, as a debugger does
                    Syscall.call("pread(/proc/" + proc.pid() + "/mem)", Nr.PREAD64, mem, bufferAddress + used, take, address);
                    runs.add(new long[] {address, take, used, 1});
                }
                used += take;
                address += take;
                remaining -= take;
            }
        }

        void flush() throws IOException {
            int n = 0;
            long want = 0;
            for (long[] r : runs) {
                if (r.length == 3) {
                    iov.putLong(n * 16L, bufferAddress + r[2]);
                    iov.putLong(n * 16L + 8, r[1]);
                    iov.putLong(IOV_MAX * 16L + n * 16L, r[0]);
                    iov.putLong(IOV_MAX * 16L + n * 16L + 8, r[1]);
                    want += r[1];
                    n++;
                }
            }
            if (n > 0) {
                long got = Linux.processVmReadv(proc.pid(), iov.address(), n, iov.address() + IOV_MAX * 16L, n);
                if (got != want) {
                    throw new IllegalStateException("reading memory of process " + proc.pid() + " returned " + got + " of " + want + " bytes");
                }
            }
            for (long[] r : runs) {
                ByteBuffer slice = buffer.duplicate();
                slice.position((int) r[2]).limit((int) (r[2] + r[1]));
                writer.writePages(r[0], slice.slice());
                pagesStored += r[1] / PAGE;
            }
            runs.clear();
            used = 0;
        }
    }
}
