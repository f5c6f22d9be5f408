package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.carried.RecreatedFiles;
import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.image.Image;
import io.pmig.checkpoint.image.PageRun;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Rebuilds an address space inside the restored process: the kernel's vdso/vvar moved to where
 * the image had them (or the image's vdso standing in for them, {@link VdsoProxy}), every mapping re-created writable at its address, the stored pages
 * written straight into it from the image, then the saved protections applied.
 */
public final class MemoryRestorer {
    private static final int IOV_MAX = 1024;
    /** The bytes of one piece of a parallel fill: small enough to share out evenly, big enough for few system calls. */
    private static final long PIECE_BYTES = 4L << 20;
    /** Each thread's room for the iovecs of a piece. */
    private static final ThreadLocal<NativeMemory> IOV = ThreadLocal.withInitial(() -> NativeMemory.allocate(IOV_MAX * 32L));
    private static final long FIRST_HOLE = 1L << 40;
    private static final long HOLE_STEP = 1L << 30;

    private MemoryRestorer() {
    }

    /** An address for the restorer's hole of {@code size} bytes that no mapping of the image touches. */
    public static long chooseHole(List<MappingImage> mappings, long size) {
        return firstFreeRange(mappings.stream().map(m -> new PageRange(m.start(), m.end())).toList(), size, "the restorer");
    }

    /** The first address from 1 TiB on, in steps of 1 GiB, where {@code size} bytes touch none of {@code taken}. */
    static long firstFreeRange(List<PageRange> taken, long size, String forWhat) {
        for (long hole = FIRST_HOLE; hole < (1L << 46); hole += HOLE_STEP) {
            long h = hole;
            if (taken.stream().noneMatch(r -> r.start() < h + size && r.end() > h)) {
                return hole;
            }
        }
        throw new FailedException("the image's mappings leave no room for " + forWhat + " below 64 TiB");
    }

    /**
     * Gives the restored process the kernel's own mappings where the image had them: this kernel's vdso and vvar moved
     * there if they are the image's, else the image's vdso standing in for this kernel's ({@link VdsoProxy}). Mappings
     * of this kernel the image does not have are removed.
     */
    public static void moveKernelMappings(Puppet puppet, List<MappingImage> mappings) {
        List<MappingImage> wanted = mappings.stream().filter(m -> m.backing() == MappingImage.Backing.KERNEL).toList();
        List<MapsEntry> current = VdsoProxy.kernelMappings(new ProcFs(puppet.pid()));
        MappingImage oldVdso = VdsoProxy.imageVdso(mappings);
        if (oldVdso != null) {
            MapsEntry hereVdso = current.stream().filter(e -> e.path().equals(VdsoProxy.VDSO)).findFirst().orElse(null);
            if (hereVdso == null || !VdsoProxy.sameAsHere(wanted, current, VdsoImage.read(puppet.pid(), hereVdso))) {
                VdsoProxy.build(puppet, mappings, wanted, current, oldVdso);
                return;
            }
        }
        RestoreProgram p = puppet.newProgram();
        for (MappingImage m : wanted) {
            MapsEntry here = current.stream().filter(e -> e.path().equals(m.name())).findFirst().orElseThrow(() ->
                new FailedException("the image has " + m.name() + " but this kernel provides none, and the image (made by an "
                    + "older pmig) does not keep its vdso; restoring across these kernels needs an image made by this version"));
            if (here.length() != m.length()) {
                throw new FailedException(m.name() + " is " + here.length() + " bytes on this kernel but " + m.length()
                    + " in the image, which (made by an older pmig) does not keep its vdso; restoring across these kernels needs"
                    + " an image made by this version");
            }
            if (here.start() != m.start()) {
                p.call("mremap " + m.name() + " to 0x" + Long.toHexString(m.start()), Nr.MREMAP, here.start(), here.length(),
                    m.length(), Linux.MREMAP_MAYMOVE | Linux.MREMAP_FIXED, m.start());
            }
        }
        for (MapsEntry e : current) {
            if (wanted.stream().noneMatch(m -> m.name().equals(e.path()))) {
                p.call("munmap " + e.path(), Nr.MUNMAP, e.start(), e.length());
            }
        }
        puppet.run(p);
    }

    /** Creates every mapping (writable for now) in the restored process, a process alone that maps no carried file. */
    public static void createMappings(Puppet puppet, List<MappingImage> mappings) {
        try (RecreatedFiles none = new RecreatedFiles()) {
            createMappings(puppet, mappings, new SharedAnonymousMemory(), none);
        }
    }

    /**
     * Creates every mapping (writable for now) in the restored process; shared anonymous memory that another process of
     * its tree restored before it is mapped from there ({@code shared}), so that they share it again, and a file carried
     * in the image from the file recreated for the tree ({@code carried}).
     */
    public static void createMappings(Puppet puppet, List<MappingImage> mappings, SharedAnonymousMemory shared, RecreatedFiles carried) {
        RestoreProgram p = puppet.newProgram();
        Set<Long> attached = new HashSet<>();
        for (MappingImage m : mappings) {
            String what = "mapping 0x" + Long.toHexString(m.start()) + "-0x" + Long.toHexString(m.end())
                + (m.name().isEmpty() ? "" : " (" + m.name() + ")");
            int rw = Linux.PROT_READ | Linux.PROT_WRITE;
            int grows = (m.growsDown() ? Linux.MAP_GROWSDOWN : 0) | VmFlag.mmapFlags(m);
            switch (m.backing()) {
                case KERNEL -> {
                }
                case ANONYMOUS -> p.call(what, Nr.MMAP, m.start(), m.length(), rw,
                    VmFlag.privateType(m) | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED | grows, -1, 0);
                case SHARED_ANONYMOUS -> {
                    SharedAnonymousMemory.Existing object = shared.existing(m);
                    if (object == null) {
                        p.call(what, Nr.MMAP, m.start(), m.length(), rw, Linux.MAP_SHARED | Linux.MAP_ANONYMOUS | Linux.MAP_FIXED | grows, -1, 0);
                    } else {
                        mapEngineFile(puppet, p, object.fd(), what, m, rw, Linux.MAP_SHARED | Linux.MAP_FIXED | grows, object.offset());
                    }
                }
                case SYSV_SHM -> {
                    // one shmat per attachment, which its mappings (split by mprotect, say) share; the parts the image does not map are unmapped
                    long base = m.start() - m.fileOffset();
                    if (attached.add(base)) {
                        p.call("attach System V segment " + m.sharedObject() + " at " + what, SysvIpc.SHMAT, m.sharedObject(), base,
                            m.sysvReadOnly() ? SysvIpc.SHM_RDONLY : 0);
                        for (PageRange gap : unmappedPartsOfAttachment(mappings, m, base).ranges()) {
                            p.call("munmap 0x" + Long.toHexString(gap.start()) + " of System V segment " + m.sharedObject(), Nr.MUNMAP,
                                gap.start(), gap.length());
                        }
                    }
                }
                case FILE -> {
                    boolean sharedWritable = m.shared() && (m.prot() & Linux.PROT_WRITE) != 0;
                    if (m.carried() != null) {
                        // created with its final protection if shared, as one mapped by path
                        mapEngineFile(puppet, p, carried.fd(m.carried(), sharedWritable, () -> what), what, m, m.shared() ? m.prot() : rw,
                            (m.shared() ? Linux.MAP_SHARED : Linux.MAP_PRIVATE) | Linux.MAP_FIXED | grows, m.fileOffset());
                    } else {
                        int open = p.call("open " + m.name() + " for " + what, Nr.OPEN, p.cString(m.name()),
                            (sharedWritable ? Linux.O_RDWR : Linux.O_RDONLY) | Linux.O_CLOEXEC, 0);
                        p.callWithResultOf(open, new int[] {4}, what, Nr.MMAP, m.start(), m.length(), m.shared() ? m.prot() : rw,
                            (m.shared() ? Linux.MAP_SHARED : Linux.MAP_PRIVATE) | Linux.MAP_FIXED | grows, 0, m.fileOffset());
                        p.callWithResultOf(open, new int[] {0}, "close " + m.name(), Nr.CLOSE, 0);
                    }
                }
            }
        }
        puppet.run(p);
        shared.created(puppet.pid(), mappings);
    }

    /** The parts of the System V attachment at {@code base} (segment {@code m.sharedObject()}, whole) that no mapping of the image covers. */
    private static PageSet unmappedPartsOfAttachment(List<MappingImage> mappings, MappingImage m, long base) {
        int id = (int) m.sharedObject();
        long size = SysvIpc.stat("System V segment " + id, SysvIpc.SHMCTL, id, SysvIpc.SHMID_DS_BYTES).getLong(SysvIpc.SHM_SEGSZ);
        long page = MemoryDumper.PAGE;
        PageSet gaps = PageSet.of(List.of(new PageRange(base, base + (size + page - 1) / page * page)));
        for (MappingImage other : mappings) {
            if (other.backing() == MappingImage.Backing.SYSV_SHM && other.sharedObject() == id && other.start() - other.fileOffset() == base) {
                gaps.removeAll(PageSet.of(List.of(new PageRange(other.start(), other.end()))));
            }
        }
        return gaps;
    }

    /** Maps {@code m} from a file the engine holds ({@code engineFd}), which the restored process takes a copy of for it. */
    private static void mapEngineFile(Puppet puppet, RestoreProgram p, int engineFd, String what, MappingImage m, int prot, int flags,
                                      long offset) {
        int copy = p.call("take the file of " + what, Nr.PIDFD_GETFD, puppet.enginePidfd(), engineFd, 0);
        p.callWithResultOf(copy, new int[] {4}, what, Nr.MMAP, m.start(), m.length(), prot, flags, 0, offset);
        p.callWithResultOf(copy, new int[] {0}, "close the file of " + what, Nr.CLOSE, 0);
    }

    /**
     * Changes the address space built from layout {@code from} into layout {@code to} (pre-copy, between
     * rounds), keeping the pages of every range both map the same way: what only {@code from} maps is
     * unmapped, what only {@code to} maps (or maps differently: another file, offset, sharing) is mapped
     * afresh, writable, like {@link #createMappings}. Protection changes wait for {@link #protect}. The
     * restorer's hole must stay clear of {@code to}.
     */
    public static void changeLayout(Puppet puppet, List<MappingImage> from, List<MappingImage> to) {
        try (RecreatedFiles none = new RecreatedFiles()) {
            changeLayout(puppet, from, to, new SharedAnonymousMemory(), none);
        }
    }

    /**
     * {@link #changeLayout(Puppet, List, List)} in a tree: shared anonymous memory that another process of the tree
     * restored before is mapped from there ({@code shared}), as {@link #createMappings(Puppet, List, SharedAnonymousMemory,
     * RecreatedFiles)} does.
     */
    public static void changeLayout(Puppet puppet, List<MappingImage> from, List<MappingImage> to, SharedAnonymousMemory shared,
                                    RecreatedFiles carried) {
        requireClearOfHole(puppet, to);
        PageSet keep = kept(from, to);
        unmapAllBut(puppet, from, keep);
        createMappings(puppet, outside(to, keep), shared, carried);
    }

    /**
     * Builds layout {@code to} in {@code child}, a process just forked from one built with layout {@code from} (a member of
     * a tree forked by its restored parent), as {@link #changeLayout} does, the kernel's mappings moved where {@code to} has
     * them once the parent's other mappings are gone. Returns the private ranges kept: their pages are the parent's,
     * shared copy-on-write until written ({@link InheritedPages}).
     */
    public static PageSet inherit(Puppet child, List<MappingImage> from, List<MappingImage> to, SharedAnonymousMemory shared,
                                  RecreatedFiles carried) {
        requireClearOfHole(child, to);
        PageSet keep = kept(from, to);
        unmapAllBut(child, from, keep);
        moveKernelMappings(child, to);
        createMappings(child, outside(to, keep), shared, carried);
        PageSet privateRanges = new PageSet();
        for (MappingImage m : to) {
            if (!m.shared() && (m.backing() == MappingImage.Backing.ANONYMOUS || m.backing() == MappingImage.Backing.FILE)) {
                privateRanges.add(m.start(), m.end());
            }
        }
        return keep.intersect(privateRanges);
    }

    /** The ranges that {@code from} and {@code to} both map the same way: their pages can stay. */
    private static PageSet kept(List<MappingImage> from, List<MappingImage> to) {
        PageSet keep = new PageSet();
        for (MappingImage a : from) {
            for (MappingImage b : to) {
                if (a.start() < b.end() && b.start() < a.end() && sameContents(a, b)) {
                    keep.add(Math.max(a.start(), b.start()), Math.min(a.end(), b.end()));
                }
            }
        }
        return keep;
    }

    /** Unmaps what {@code from} maps outside {@code keep} (the kernel's mappings stay). */
    private static void unmapAllBut(Puppet puppet, List<MappingImage> from, PageSet keep) {
        PageSet gone = PageSet.of(rangesOf(from));
        gone.removeAll(keep);
        RestoreProgram p = puppet.newProgram();
        for (PageRange r : gone.ranges()) {
            if (!p.hasRoomFor(1)) {
                puppet.run(p);
                p = puppet.newProgram();
            }
            p.call("munmap 0x" + Long.toHexString(r.start()) + "-0x" + Long.toHexString(r.end()), Nr.MUNMAP, r.start(), r.length());
        }
        puppet.run(p);
    }

    /** The parts of {@code to}'s mappings outside {@code keep} (but the kernel's), to be mapped afresh. */
    private static List<MappingImage> outside(List<MappingImage> to, PageSet keep) {
        List<MappingImage> fresh = new ArrayList<>();
        for (MappingImage m : to) {
            if (m.backing() == MappingImage.Backing.KERNEL) {
                continue;
            }
            PageSet parts = PageSet.of(List.of(new PageRange(m.start(), m.end())));
            parts.removeAll(keep);
            for (PageRange r : parts.ranges()) {
                fresh.add(new MappingImage(r.start(), r.end(), m.prot(), m.shared(), m.growsDown(), m.backing(), m.name(),
                    m.fileOffset() + (r.start() - m.start()), m.file(), m.vmFlags(), m.sharedObject(), m.carried(), m.vdso(), m.sysvReadOnly()));
            }
        }
        return fresh;
    }

    /** The restorer's hole (chosen from the root's first layout) must stay clear of every mapping of {@code mappings}. */
    public static void requireClearOfHole(Puppet puppet, List<MappingImage> mappings) {
        for (MappingImage m : mappings) {
            if (m.start() < puppet.hole() + Puppet.HOLE_SIZE && m.end() > puppet.hole()) {
                throw new FailedException("mapping 0x" + Long.toHexString(m.start()) + "-0x" + Long.toHexString(m.end())
                    + " of process " + puppet.pid() + " lies where the restorer works (0x" + Long.toHexString(puppet.hole())
                    + "); migrate again (the restorer chooses its place from the first layout it receives)");
            }
        }
    }

    /** Two mappings whose common pages hold the same thing: same backing, same file at the same offset. */
    private static boolean sameContents(MappingImage a, MappingImage b) {
        if (a.backing() != b.backing() || a.shared() != b.shared() || a.backing() == MappingImage.Backing.KERNEL
                || !VmFlag.sameMmapFlags(a, b)) {
            return false;
        }
        if (a.backing() != MappingImage.Backing.FILE) {
            return a.sharedObject() == b.sharedObject();
        }
        // a shared file mapping is created with its final protection (createMappings)
        return a.name().equals(b.name()) && a.fileOffset() - a.start() == b.fileOffset() - b.start()
            && (!a.shared() || a.prot() == b.prot());
    }

    private static List<PageRange> rangesOf(List<MappingImage> mappings) {
        List<PageRange> out = new ArrayList<>();
        for (MappingImage m : mappings) {
            if (m.backing() != MappingImage.Backing.KERNEL) {
                out.add(new PageRange(m.start(), m.end()));
            }
        }
        return out;
    }

    /**
     * Drops pages the source no longer stores (pre-copy): they read as zeros again, or as the file in a
     * private file mapping (MADV_DONTNEED); in shared anonymous memory the page itself is freed (MADV_REMOVE).
     */
    public static void drop(Puppet puppet, List<MappingImage> layout, List<PageRange> pages) {
        RestoreProgram p = puppet.newProgram();
        for (PageRange r : pages) {
            for (MappingImage m : layout) {
                long start = Math.max(r.start(), m.start());
                long end = Math.min(r.end(), m.end());
                if (start >= end || m.backing() == MappingImage.Backing.KERNEL || (m.backing() == MappingImage.Backing.FILE && m.shared())) {
                    continue;
                }
                if (!p.hasRoomFor(1)) {
                    puppet.run(p);
                    p = puppet.newProgram();
                }
                p.call("drop pages 0x" + Long.toHexString(start) + "-0x" + Long.toHexString(end), Nr.MADVISE, start, end - start,
                    m.backing() == MappingImage.Backing.SHARED_ANONYMOUS ? Linux.MADV_REMOVE : Linux.MADV_DONTNEED);
            }
        }
        puppet.run(p);
    }

    /**
     * Writes every stored page of a mapped image file into the restored process, on every core (a parallel stream) in
     * pieces of a few MiB: the copy into fresh memory, a fault and a zeroed page for every page, is most of a big restore,
     * and two cores do it in half the time. Returns the bytes written.
     */
    public static long fillPages(Puppet puppet, Image image) throws IOException {
        List<List<Segment>> pieces = pieces(image);
        IntStream.range(0, pieces.size()).parallel().forEach(i -> writePiece(puppet, pieces.get(i), IOV.get()));
        return image.totalPageBytes();
    }

    /** Some pages to write at {@code address}, from the image's mapping (or a run decompressed when it was opened). */
    private record Segment(long address, ByteBuffer data) {
    }

    /** The image's pages in pieces of about {@link #PIECE_BYTES}, each written by one process_vm_writev. */
    private static List<List<Segment>> pieces(Image image) throws IOException {
        int pageSize = image.header().pageSize();
        List<List<Segment>> pieces = new ArrayList<>();
        List<Segment> piece = new ArrayList<>();
        long room = PIECE_BYTES;
        for (PageRun run : image.pageRuns()) {
            ByteBuffer data = image.pageData(run);
            for (long done = 0; done < run.byteLength(pageSize); ) {
                if (room == 0 || piece.size() == IOV_MAX) {
                    pieces.add(piece);
                    piece = new ArrayList<>();
                    room = PIECE_BYTES;
                }
                int length = (int) Math.min(room, run.byteLength(pageSize) - done);
                piece.add(new Segment(run.address() + done, data.slice((int) done, length)));
                done += length;
                room -= length;
            }
        }
        if (!piece.isEmpty()) {
            pieces.add(piece);
        }
        return pieces;
    }

    private static void writePiece(Puppet puppet, List<Segment> piece, NativeMemory iov) {
        long want = 0;
        for (int i = 0; i < piece.size(); i++) {
            Segment segment = piece.get(i);
            long length = segment.data().remaining();
            iov.putLong(i * 16L, NativeMemory.addressOf(segment.data()));
            iov.putLong(i * 16L + 8, length);
            iov.putLong(IOV_MAX * 16L + i * 16L, segment.address());
            iov.putLong(IOV_MAX * 16L + i * 16L + 8, length);
            want += length;
        }
        long done = Linux.processVmWritev(puppet.pid(), iov.address(), piece.size(), iov.address() + IOV_MAX * 16L, piece.size());
        if (done != want) {
            throw new FailedException("writing pages at 0x" + Long.toHexString(piece.get(0).address()) + " into restored process "
                + puppet.pid() + " moved " + done + " of " + want + " bytes");
        }
    }

    /** Writes one run of pages, as it came from a stream, into the restored process. */
    public static void writeRun(Puppet puppet, long address, ByteBuffer data, NativeMemory iov) {
        long length = data.remaining();
        iov.putLong(0, NativeMemory.addressOf(data.slice())); // slice: its address is where the data starts
        iov.putLong(8, length);
        iov.putLong(16, address);
        iov.putLong(24, length);
        long done = Linux.processVmWritev(puppet.pid(), iov.address(), 1, iov.address() + 16, 1);
        if (done != length) {
            throw new FailedException("writing pages at 0x" + Long.toHexString(address) + " into restored process "
                + puppet.pid() + " moved " + done + " of " + length + " bytes");
        }
    }

    /** Applies each mapping's saved protection and gives it its flags back ({@link VmFlag}). */
    public static void protect(Puppet puppet, List<MappingImage> mappings) {
        RestoreProgram p = puppet.newProgram();
        int rw = Linux.PROT_READ | Linux.PROT_WRITE;
        for (MappingImage m : mappings) {
            boolean mappedFinal = m.backing() == MappingImage.Backing.KERNEL || (m.backing() == MappingImage.Backing.FILE && m.shared());
            if (!mappedFinal && m.prot() != rw) {
                p.call("mprotect 0x" + Long.toHexString(m.start()), Nr.MPROTECT, m.start(), m.length(), m.prot());
            }
            VmFlag.restore(m, p);
        }
        puppet.run(p);
    }
}
