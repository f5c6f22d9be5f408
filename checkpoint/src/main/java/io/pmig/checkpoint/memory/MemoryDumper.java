package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.carried.CarriedFiles;
import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.image.ImageWriter;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Pagemap;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.SyscallException;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;

/**
 * Reads the address space of a frozen process: its mappings, and the pages worth storing
 * (found in /proc/PID/pagemap), copied by virtual address into the image.
 */
public final class MemoryDumper {
    public static final int PAGE = 4096;
    private static final long PM_PRESENT = 1L << 63;
    private static final long PM_SWAPPED = 1L << 62;
    private static final long PM_FILE_OR_SHARED = 1L << 61;
    private static final long PM_MMAP_EXCLUSIVE = 1L << 56;
    private static final long PM_PFN = (1L << 55) - 1;
    private static final int BUFFER_BYTES = 4 << 20;
    private static final int FIRST_CHUNK_BYTES = 256 << 10;
    private static final int IOV_MAX = 1024;
    private static final int SCAN_REGIONS = 4096;
    /** Read the chunks of pages while the engine's thread writes the one before; daemon threads, kept a minute when idle. */
    private static final ExecutorService READERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "pmig-page-reader");
        t.setDaemon(true);
        return t;
    });
    /** How often the mappings of a process that keeps changing them are read again. */
    private static final int CHANGING_ATTEMPTS = 10;

    private final ProcFs proc;

    public MemoryDumper(ProcFs proc) {
        this.proc = proc;
    }

    /** The mappings of the process; refuses, naming it, a mapping this engine cannot restore. */
    public List<MappingImage> mappings() {
        return mappings(List.of());
    }

    /**
     * The mappings, taking whether each grows down and its flags ({@link VmFlag}) from {@code known} (an
     * earlier reading of this process's mappings) where a mapping with the same end, name and sharing is
     * there, since a growing stack keeps its end: smaps, the only place that says, walks every page table
     * (tens of ms for a GB), which a pre-copy's last round spends frozen. Reads smaps if one is new.
     */
    public List<MappingImage> mappings(List<MappingImage> known) {
        for (int attempt = 1; ; attempt++) {
            try {
                return readMappings(known);
            } catch (RefusedException | SyscallException e) {
                // a running process (a pre-copy round) changed its mappings while they were examined (a file deleted
                // when stat'ed by path, say): read them again
                if (!vanished(e) || attempt == CHANGING_ATTEMPTS || !proc.exists()) {
                    throw e;
                }
            }
        }
    }

    /** Whether {@code e} says a file or mapping was gone when looked at (ENOENT from stat, statfs or a map_files link). */
    private static boolean vanished(RuntimeException e) {
        return e.getCause() instanceof java.nio.file.NoSuchFileException || e instanceof SyscallException s && s.errno() == Errno.ENOENT;
    }

    private List<MappingImage> readMappings(List<MappingImage> known) {
        List<MapsEntry> entries = proc.maps().stream().filter(e -> !e.path().equals("[vsyscall]")).toList();
        Map<Long, MappingImage> earlier = new java.util.HashMap<>();
        for (MapsEntry e : entries) {
            known.stream().filter(k -> k.end() == e.end() && k.name().equals(e.path()) && k.shared() == e.shared())
                .findFirst().ifPresent(k -> earlier.put(e.start(), k));
        }
        Map<Long, String> vmFlags = earlier.size() < entries.size() ? vmFlagsByStart() : Map.of();
        List<MappingImage> out = new ArrayList<>();
        Map<String, FileIdentity> files = new java.util.HashMap<>(); // a library is mapped in several pieces: one stat each
        Map<String, java.util.Optional<String>> carriedKeys = new java.util.HashMap<>();
        for (MapsEntry e : entries) {
            int prot = (e.readable() ? Linux.PROT_READ : 0) | (e.writable() ? Linux.PROT_WRITE : 0) | (e.executable() ? Linux.PROT_EXEC : 0);
            MappingImage.Backing backing = backingOf(e);
            String carried;
            try {
                carried = backing == MappingImage.Backing.FILE ? carriedKeys.computeIfAbsent(e.path() + " " + e.inode(),
                    k -> java.util.Optional.ofNullable(CarriedFiles.keyOf(proc.mapFile(e.start(), e.end()), e.path(), () -> where(e) + " (" + e.path() + ")")))
                    .orElse(null) : null;
            } catch (RefusedException | SyscallException gone) {
                if (vanished(gone) && !Files.exists(proc.mapFile(e.start(), e.end()), LinkOption.NOFOLLOW_LINKS)) {
                    // unmapped by a running process (a pre-copy round) since the listing: as if listed a moment later (a
                    // server mapping a file per request churned through ten listings in a row)
                    continue;
                }
                throw gone;
            }
            if (backing == MappingImage.Backing.FILE && carried == null && e.path().endsWith(" (deleted)")) {
                throw new RefusedException(where(e) + " maps a deleted file (" + e.path() + ") that is not a regular file, "
                    + "which cannot be restored");
            }
            FileIdentity file = backing == MappingImage.Backing.FILE && carried == null
                ? files.computeIfAbsent(e.path(), path -> FileIdentity.of(Path.of(path))) : null;
            boolean growsDown;
            List<String> flags;
            boolean sysvReadOnly;
            if (vmFlags.isEmpty()) {
                growsDown = earlier.get(e.start()).growsDown();
                flags = earlier.get(e.start()).vmFlags();
                sysvReadOnly = earlier.get(e.start()).sysvReadOnly();
            } else {
                String all = vmFlags.getOrDefault(e.start(), "");
                VmFlag.refused(all).ifPresent(what -> {
                    throw new RefusedException(where(e) + " is " + what + ", which cannot be restored yet");
                });
                growsDown = all.contains(" gd ");
                flags = VmFlag.restored(all);
                sysvReadOnly = backing == MappingImage.Backing.SYSV_SHM && !all.contains(" mw ");
            }
            boolean sharedObject = backing == MappingImage.Backing.SHARED_ANONYMOUS || backing == MappingImage.Backing.SYSV_SHM;
            out.add(new MappingImage(e.start(), e.end(), prot, e.shared(), growsDown, backing, e.path(), e.offset(), file, flags,
                sharedObject ? e.inode() : 0, carried, e.path().equals(VdsoProxy.VDSO) ? VdsoImage.read(proc.pid(), e) : null,
                sysvReadOnly));
        }
        return out;
    }

    private String where(MapsEntry e) {
        return "mapping " + Long.toHexString(e.start()) + "-" + Long.toHexString(e.end()) + " of process " + proc.pid();
    }

    /** The process whose memory this reads (its pid on this host). */
    public int pid() {
        return proc.pid();
    }

    private MappingImage.Backing backingOf(MapsEntry e) {
        String where = where(e);
        if (e.kernelSpecial()) {
            return MappingImage.Backing.KERNEL;
        }
        if (e.shared() && e.path().startsWith("/dev/zero")) {
            return MappingImage.Backing.SHARED_ANONYMOUS;
        }
        if (e.path().startsWith("/SYSV")) {
            return MappingImage.Backing.SYSV_SHM;
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
                out.put(current, " " + line.substring(8).trim() + " ");
            }
        }
        return out;
    }

    /** The pages worth storing, found before any is copied, so their amount is known up front. */
    public static final class PagePlan {
        private final List<Chunk> chunks;

        private PagePlan(List<Chunk> chunks) {
            this.chunks = chunks;
        }

        /** How many page runs (one PAGES record each: a run never exceeds a buffer) will be written. */
        public long runs() {
            return chunks.stream().mapToLong(c -> c.runs().size()).sum();
        }

        public long bytes() {
            return chunks.stream().flatMap(c -> c.runs().stream()).mapToLong(Run::length).sum();
        }

        /** The planned pages. */
        public PageSet pages() {
            PageSet out = new PageSet();
            chunks.stream().flatMap(c -> c.runs().stream()).forEach(r -> out.add(r.address(), r.address() + r.length()));
            return out;
        }
    }

    /**
     * Copies every planned page into the image, calling {@code afterChunk} after each buffer;
     * returns the number of pages stored. Reading (process_vm_readv) and writing overlap: a reader
     * thread, started and stopped here, fills one buffer while this thread writes the other out.
     */
    public long writePages(PagePlan plan, ImageWriter writer, Runnable afterChunk) throws IOException {
        return writePages(plan, writer, afterChunk, null);
    }

    /**
     * Copies the planned pages of a process that runs meanwhile (pre-copy): a page unmapped between
     * planning and reading is left out rather than failing the copy (what became of its range shows in
     * the next layout, and a mapping put there is new to the write tracker, which reports it whole).
     * Calls {@code afterChunk} after each buffer; returns the pages actually copied.
     */
    public PageSet writePagesWhileRunning(PagePlan plan, ImageWriter writer, Runnable afterChunk) throws IOException {
        PageSet copied = new PageSet();
        writePages(plan, writer, afterChunk, copied);
        return copied;
    }

    /** {@code copied} null: the process is frozen and every page must be read; else collects what was. */
    private long writePages(PagePlan plan, ImageWriter writer, Runnable afterChunk, PageSet copied) throws IOException {
        List<Chunk> chunks = plan.chunks;
        if (chunks.isEmpty()) {
            return 0;
        }
        boolean running = copied != null;
        ByteBuffer[] buffers = PageBuffers.take(chunks.stream().mapToInt(Chunk::bytes).max().orElse(0));
        // one chunk (a pre-copy's last part, often a few pages) is read on this thread: a hand-over to the
        // reader thread would overlap nothing
        Executor reader = chunks.size() > 1 ? READERS : Runnable::run;
        // the CRC of each record is computed by the reader, after its copy: the writer's thread is the one waited for
        ImageWriter.RawPagesCrc crc = writer.writesRawRecord(BUFFER_BYTES) ? writer.rawPagesCrc() : null;
        int mem = Linux.open(proc.path("mem").toString(), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        Future<ReadChunk> next = null;
        try {
            NativeMemory iov = NativeMemory.allocate(IOV_MAX * 32L);
            next = submit(reader, () -> read(chunks.get(0), buffers[0], iov, mem, running, crc));
            long pages = 0;
            for (int i = 0; i < chunks.size(); i++) {
                ReadChunk read = await(next);
                next = null;
                if (i + 1 < chunks.size()) {
                    int k = i + 1;
                    next = submit(reader, () -> read(chunks.get(k), buffers[k % 2], iov, mem, running, crc));
                }
                for (int j = 0; j < read.runs().size(); j++) {
                    Run r = read.runs().get(j);
                    writer.writePages(r.address(), buffers[i % 2].slice((int) r.offset(), (int) r.length()), read.crcs()[j]);
                    pages += r.length() / PAGE;
                    if (copied != null) {
                        copied.add(r.address(), r.address() + r.length());
                    }
                }
                afterChunk.run();
            }
            PageBuffers.give(buffers);
            return pages;
        } finally {
            // a read still under way when the writing failed ends before its descriptor is closed (its buffers are dropped)
            awaitQuietly(next);
            Linux.close(mem);
        }
    }

    private static void awaitQuietly(Future<?> read) {
        if (read != null) {
            try {
                read.get();
            } catch (ExecutionException | java.util.concurrent.CancellationException failed) {
                // the copy failed already; this read's failure adds nothing
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static Future<ReadChunk> submit(Executor reader, Callable<ReadChunk> read) {
        FutureTask<ReadChunk> task = new FutureTask<>(read);
        reader.execute(task);
        return task;
    }

    /**
     * Page runs at their place in a buffer. {@code pinnable} false: read through /proc/PID/mem, not process_vm_readv,
     * which fails on PROT_NONE and pins what it reads: the kernel (5.19 on) unshares an anonymous page pinned even for
     * reading, so each page a forked process shares copy-on-write with its parent or children would become a copy of its
     * own (a prefork server's whole tree would double its memory, or more, on the source while it moves).
     */
    private record Run(long address, long length, long offset, boolean pinnable) {
    }

    /** The runs of a chunk read into its buffer, each with the CRC of its record if computed ahead (else null). */
    private record ReadChunk(List<Run> runs, Integer[] crcs) {
    }

    /** What fits one buffer and one process_vm_readv call. */
    private record Chunk(List<Run> runs) {
        int bytes() {
            Run last = runs.get(runs.size() - 1);
            return (int) (last.offset() + last.length());
        }
    }

    /** The runs of pages worth storing, from pagemap, packed into buffer-sized chunks. */
    public PagePlan plan(List<MappingImage> mappings) {
        return plan(mappings, null);
    }

    /**
     * The bytes chunk {@code index} holds at most: the first is read before any is written, and the last written after every
     * read, with nothing beside them; so the first chunks are small and double (writing a chunk takes about twice as long
     * as reading one, so the read of the next, twice as big, ends as the write does) up to a full buffer.
     */
    private static long chunkCapacity(int index) {
        return Math.min(BUFFER_BYTES, (long) FIRST_CHUNK_BYTES << Math.min(index, 16));
    }

    /** Like {@link #plan(List)}, only among the pages of {@code only} (all if null). */
    public PagePlan plan(List<MappingImage> mappings, PageSet only) {
        List<Chunk> chunks = new ArrayList<>();
        List<Run> current = new ArrayList<>();
        long used = 0;
        int pagemap = Linux.open(proc.path("pagemap").toString(), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            for (MappingImage m : mappings) {
                if (!storesPages(m)) {
                    continue;
                }
                boolean anonOnly = m.backing() == MappingImage.Backing.FILE;
                boolean readable = (m.prot() & Linux.PROT_READ) != 0;
                List<PageRange> segments = only == null ? List.of(new PageRange(m.start(), m.end()))
                    : only.intersect(PageSet.of(List.of(new PageRange(m.start(), m.end())))).ranges();
                for (PageRange segment : segments) {
                    long[] entries = pagemapEntries(pagemap, segment.start(), segment.end());
                    int i = 0;
                    while (i < entries.length) {
                        if (!worthStoring(entries[i], anonOnly)) {
                            i++;
                            continue;
                        }
                        // pages the process shares copy-on-write (a forked tree's) are read apart, without a pin
                        boolean pinnable = readable && pinnable(entries[i]);
                        int j = i;
                        while (j < entries.length && worthStoring(entries[j], anonOnly) && (readable && pinnable(entries[j])) == pinnable) {
                            j++;
                        }
                        long address = segment.start() + (long) i * PAGE;
                        long remaining = (long) (j - i) * PAGE;
                        while (remaining > 0) {
                            long capacity = chunkCapacity(chunks.size());
                            if (used == capacity || current.size() == IOV_MAX) {
                                chunks.add(new Chunk(current));
                                current = new ArrayList<>();
                                used = 0;
                            }
                            long take = Math.min(remaining, chunkCapacity(chunks.size()) - used);
                            current.add(new Run(address, take, used, pinnable));
                            used += take;
                            address += take;
                            remaining -= take;
                        }
                        i = j;
                    }
                }
            }
        } finally {
            Linux.close(pagemap);
        }
        if (!current.isEmpty()) {
            chunks.add(new Chunk(current));
        }
        return new PagePlan(chunks);
    }

    /**
     * The pages among {@code pages} that hold nothing an image would store any more: neither present
     * nor swapped out, the shared zero page, or in a private file mapping the file's own page again
     * (a pre-copy's receiver drops them), or a PTE marker (discarded under a userfaultfd's write protection).
     * One PAGEMAP_SCAN walk per mapping, which reads the page tables without copying an entry per page and
     * reports only the pages that may be gone (a few ms per GB), then pagemap entries of the few it counts
     * as swapped; where the kernel lacks it (before 6.7), pagemap entries alone.
     */
    public PageSet notStored(List<MappingImage> mappings, PageSet pages) {
        PageSet out = new PageSet();
        int pagemap = Linux.open(proc.path("pagemap").toString(), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            for (MappingImage m : mappings) {
                PageSet mine = pages.intersect(PageSet.of(List.of(new PageRange(m.start(), m.end()))));
                if (!storesPages(m) || mine.isEmpty()) {
                    continue;
                }
                boolean fileMapping = m.backing() == MappingImage.Backing.FILE;
                long fileCategory = fileMapping ? Pagemap.PAGE_IS_FILE : 0;
                // not present (then told apart from swapped out by the categories returned), the zero page, a file's page
                long suspects = Pagemap.PAGE_IS_PRESENT | Pagemap.PAGE_IS_PFNZERO | fileCategory;
                long told = Pagemap.PAGE_IS_PRESENT | Pagemap.PAGE_IS_SWAPPED | Pagemap.PAGE_IS_PFNZERO | fileCategory;
                PageSet found = new PageSet();
                PageSet swapped = new PageSet();
                Pagemap.scanAnyOf(pagemap, m.start(), m.end(), Pagemap.PAGE_IS_PRESENT, suspects, told, SCAN_REGIONS,
                    (start, end, categories) -> {
                        if (!stored(categories, fileMapping)) {
                            found.add(start, end);
                        } else if ((categories & Pagemap.PAGE_IS_SWAPPED) != 0) {
                            swapped.add(start, end);
                        }
                    });
                // the scan counts a PTE marker as swapped: a page discarded under the tracker's write protection
                for (PageRange r : swapped.intersect(mine).ranges()) {
                    long[] entries = pagemapEntries(pagemap, r.start(), r.end());
                    for (int i = 0; i < entries.length; i++) {
                        if (PteMarker.is(entries[i])) {
                            found.add(r.start() + (long) i * PAGE, r.start() + (long) (i + 1) * PAGE);
                        }
                    }
                }
                out.addAll(found.intersect(mine));
            }
            return out;
        } catch (SyscallException e) {
            if (e.errno() != Pagemap.ENOTTY && e.errno() != Errno.EINVAL) {
                throw e;
            }
            PageSet gone = PageSet.of(pages.ranges());
            gone.removeAll(plan(mappings, pages).pages());
            return gone;
        } finally {
            Linux.close(pagemap);
        }
    }

    /** Reads a chunk and, with {@code crc}, computes the CRC of each run's record. */
    private ReadChunk read(Chunk chunk, ByteBuffer buffer, NativeMemory iov, int mem, boolean running, ImageWriter.RawPagesCrc crc) {
        List<Run> runs = read(chunk, buffer, iov, mem, running);
        Integer[] crcs = new Integer[runs.size()];
        for (int i = 0; crc != null && i < crcs.length; i++) {
            Run r = runs.get(i);
            crcs[i] = crc.of(r.address(), buffer.slice((int) r.offset(), (int) r.length()));
        }
        return new ReadChunk(runs, crcs);
    }

    /** Reads a chunk; returns its runs, or with {@code running}, the parts of them still mapped (see below). */
    private List<Run> read(Chunk chunk, ByteBuffer buffer, NativeMemory iov, int mem, boolean running) {
        try {
            read(chunk, buffer, iov, mem);
            return chunk.runs();
        } catch (RuntimeException e) {
            if (!running) {
                throw e;
            }
            return readPageByPage(chunk, buffer, mem);
        }
    }

    /** A running process unmapped part of a chunk: each page on its own, those that fail left out. */
    private List<Run> readPageByPage(Chunk chunk, ByteBuffer buffer, int mem) {
        long base = NativeMemory.addressOf(buffer);
        List<Run> out = new ArrayList<>();
        for (Run r : chunk.runs()) {
            for (long at = 0; at < r.length(); at += PAGE) {
                try {
                    long got = Syscall.call("pread(/proc/" + proc.pid() + "/mem)", Nr.PREAD64, mem, base + r.offset() + at, PAGE, r.address() + at);
                    if (got != PAGE) {
                        continue;
                    }
                } catch (RuntimeException gone) {
                    continue;
                }
                Run last = out.isEmpty() ? null : out.get(out.size() - 1);
                if (last != null && last.address() + last.length() == r.address() + at && last.offset() + last.length() == r.offset() + at) {
                    out.set(out.size() - 1, new Run(last.address(), last.length() + PAGE, last.offset(), last.pinnable()));
                } else {
                    out.add(new Run(r.address() + at, PAGE, r.offset() + at, r.pinnable()));
                }
            }
        }
        return out;
    }

    private void read(Chunk chunk, ByteBuffer buffer, NativeMemory iov, int mem) {
        long base = NativeMemory.addressOf(buffer);
        int n = 0;
        long want = 0;
        for (Run r : chunk.runs()) {
            if (!r.pinnable()) {
                // /proc/PID/mem reads through PROT_NONE, as a debugger does, and takes no pin
                Syscall.call("pread(/proc/" + proc.pid() + "/mem)", Nr.PREAD64, mem, base + r.offset(), r.length(), r.address());
                continue;
            }
            iov.putLong(n * 16L, base + r.offset());
            iov.putLong(n * 16L + 8, r.length());
            iov.putLong(IOV_MAX * 16L + n * 16L, r.address());
            iov.putLong(IOV_MAX * 16L + n * 16L + 8, r.length());
            want += r.length();
            n++;
        }
        if (n > 0) {
            long got = Linux.processVmReadv(proc.pid(), iov.address(), n, iov.address() + IOV_MAX * 16L, n);
            if (got != want) {
                throw new IllegalStateException("reading memory of process " + proc.pid() + " returned " + got + " of " + want + " bytes");
            }
        }
    }

    private static <T> T await(Future<T> read) throws IOException {
        try {
            return read.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reading process memory", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause());
        }
    }

    private static boolean storesPages(MappingImage m) {
        return switch (m.backing()) {
            case ANONYMOUS, SHARED_ANONYMOUS -> true;
            case FILE -> !m.shared();
            case KERNEL, SYSV_SHM -> false;  // a System V segment's bytes are saved once, with the segment (ipc/)
        };
    }

    /** Whether pages of these PAGEMAP_SCAN categories hold what an image stores: present or swapped, not the zero page, not a file's own page. */
    private static boolean stored(long categories, boolean fileMapping) {
        return (categories & (Pagemap.PAGE_IS_PRESENT | Pagemap.PAGE_IS_SWAPPED)) != 0 && (categories & Pagemap.PAGE_IS_PFNZERO) == 0
            && !(fileMapping && (categories & Pagemap.PAGE_IS_FILE) != 0);
    }

    /** A page present and mapped by this process alone (pagemap's PM_MMAP_EXCLUSIVE): a pin leaves it as it is. */
    private static boolean pinnable(long entry) {
        return (entry & PM_PRESENT) != 0 && (entry & PM_MMAP_EXCLUSIVE) != 0;
    }

    /**
     * Written pages: present (but not the shared zero page) or swapped out (a PTE marker is not); for file
     * mappings only the copied ones.
     */
    static boolean worthStoring(long entry, boolean anonymousOnly) {
        if ((entry & PM_SWAPPED) != 0) {
            return !PteMarker.is(entry);
        }
        return (entry & PM_PRESENT) != 0 && (!anonymousOnly || (entry & PM_FILE_OR_SHARED) == 0)
            && (entry & PM_PFN) != ZeroPage.pfn();
    }

    /** The pagemap entries (Documentation/admin-guide/mm/pagemap.rst) of the pages [start, end), one per page. */
    public static long[] pagemapEntries(int pagemap, long start, long end) {
        int pages = (int) ((end - start) / PAGE);
        NativeMemory raw = NativeMemory.allocate(pages * 8L);
        long done = 0;
        long want = pages * 8L;
        while (done < want) {
            long n = Syscall.call("pread(pagemap)", Nr.PREAD64, pagemap, raw.address() + done, want - done, start / PAGE * 8 + done);
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
}
