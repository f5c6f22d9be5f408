package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.carried.CarriedFiles;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * System V shared memory segments. A segment belongs to the tree when a member has it attached (a {@code /SYSV} mapping
 * in /proc/PID/maps, whose inode is the segment's id); one that is attached more often than the members' mappings count
 * ({@code nattch}: one per mapping) is attached by another process too, and refused. Its bytes are read through a
 * member's attachment (/proc/PID/mem: nothing of the segment changes, not even its last-attach pid), pages of zeros left
 * out, and written at restore through an attachment of the engine's; the members attach it again where they had it
 * (their mappings, {@code MemoryRestorer}). A segment removed while attached ({@code SHM_DEST}) is removed again once
 * every member has it attached.
 */
final class SysvSharedMemory extends SysvKind<SysvSharedMemory.Saved> {
    private static final int PAGE = 4096;
    private static final int READ_BYTES = 1 << 20;
    /** Bytes per piece of content: a base64 string of a JSON reader's limit, as carried files. */
    private static final int PIECE_BYTES = 8 << 20;

    /** Bytes of a segment from {@code offset} on (runs of pages that are not all zeros). */
    record Piece(long offset, byte[] bytes) {
    }

    /** A segment: {@code size} in bytes, whether it was removed while attached ({@code SHM_DEST} in the mode) or locked. */
    @ImageKind("sysv.shm")
    record Saved(SysvPerm perm, long size, List<Piece> content) implements SysvKind.Saved {
    }

    SysvSharedMemory() {
        super("System V shared memory segment", "shm", "shmid", SysvIpc.SHMCTL, "-m", Saved.class);
    }

    @Override
    List<Integer> usedBy(SysvUsers tree) {
        List<Map<String, String>> rows = SysvObjects.rows(table());
        if (rows.isEmpty()) {
            return List.of();   // the usual case: no segment on the host, no member's mappings to read
        }
        Map<Integer, Integer> mappings = new LinkedHashMap<>();
        for (int pid : tree.live()) {
            for (MapsEntry e : new ProcFs(pid).maps()) {
                if (isSysv(e)) {
                    mappings.merge((int) e.inode(), 1, Integer::sum);
                }
            }
        }
        for (Map<String, String> row : rows) {
            Integer id = Integer.valueOf(row.get(idColumn()));
            Integer mine = mappings.get(id);
            if (mine == null) {
                continue;
            }
            String what = describe(row);
            int attached = Integer.parseInt(row.get("nattch"));
            if (attached > mine) {
                throw new RefusedException(what + " is attached " + attached + " times, " + mine + " of them by the processes being "
                    + "moved (root " + tree.hostPids().get(0) + "): another process uses it too; stop it, or move the tree that "
                    + "contains both");
            }
            long size = Long.parseLong(row.get("size"));
            if (size > CarriedFiles.maxBytes()) {
                throw new RefusedException(what + " holds " + size + " bytes, more than an image carries (system property "
                    + CarriedFiles.MAX_BYTES_PROPERTY + ", at most " + CarriedFiles.FORMAT_MAX_BYTES + ")");
            }
        }
        return List.copyOf(mappings.keySet());
    }

    @Override
    Saved save(int id, SysvUsers tree) {
        NativeMemory ds = SysvIpc.stat(noun() + " " + id, ctl(), id, SysvIpc.SHMID_DS_BYTES);
        SysvPerm perm = SysvPerm.of(id, ds);
        long size = ds.getLong(SysvIpc.SHM_SEGSZ);
        for (int pid : tree.live()) {
            Long base = wholeAttachment(pid, id, size);
            if (base != null) {
                return new Saved(perm, size, read(pid, base, size));
            }
        }
        throw new RefusedException(noun() + " " + perm.describe() + " is mapped only in parts by the processes being moved, "
            + "which this engine cannot read whole");
    }

    /** Where process {@code pid} has segment {@code id} attached whole (its mappings of it cover every page), or null. */
    private static Long wholeAttachment(int pid, int id, long size) {
        Map<Long, Long> coveredByBase = new LinkedHashMap<>();
        for (MapsEntry e : new ProcFs(pid).maps()) {
            if (isSysv(e) && e.inode() == id) {
                coveredByBase.merge(e.start() - e.offset(), e.length(), Long::sum);
            }
        }
        long pages = (size + PAGE - 1) / PAGE * PAGE;
        return coveredByBase.entrySet().stream().filter(c -> c.getValue() >= pages).map(Map.Entry::getKey).findFirst().orElse(null);
    }

    /** The segment's bytes, read through the attachment at {@code base} of {@code pid}: runs of pages not all zeros. */
    private static List<Piece> read(int pid, long base, long size) {
        List<Piece> out = new ArrayList<>();
        int mem = Linux.open("/proc/" + pid + "/mem", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            NativeMemory buffer = NativeMemory.allocate(READ_BYTES);
            java.io.ByteArrayOutputStream run = new java.io.ByteArrayOutputStream();
            long runStart = 0;
            for (long at = 0; at < size; at += READ_BYTES) {
                int want = (int) Math.min(READ_BYTES, size - at);
                long got = Syscall.call("pread(/proc/" + pid + "/mem)", Nr.PREAD64, mem, buffer.address(), want, base + at);
                if (got != want) {
                    throw new FailedException("reading System V shared memory through process " + pid + " returned " + got
                        + " of " + want + " bytes");
                }
                byte[] bytes = buffer.bytes(0, want);
                for (int page = 0; page < want; page += PAGE) {
                    int length = Math.min(PAGE, want - page);
                    boolean zeros = true;
                    for (int i = page; i < page + length && zeros; i++) {
                        zeros = bytes[i] == 0;
                    }
                    if (zeros || run.size() == PIECE_BYTES) {
                        if (run.size() > 0) {
                            out.add(new Piece(runStart, run.toByteArray()));
                            run.reset();
                        }
                    }
                    if (!zeros) {
                        if (run.size() == 0) {
                            runStart = at + page;
                        }
                        run.write(bytes, page, length);
                    }
                }
            }
            if (run.size() > 0) {
                out.add(new Piece(runStart, run.toByteArray()));
            }
            return out;
        } finally {
            Linux.close(mem);
        }
    }

    @Override
    int create(Saved saved) {
        SysvPerm perm = saved.perm();
        int id = (int) Syscall.call("shmget(" + perm.describe() + ")", SysvIpc.SHMGET, perm.key(), saved.size(),
            SysvIpc.IPC_CREAT | SysvIpc.IPC_EXCL | (perm.mode() & 0777));
        if (id != perm.id()) {
            return id;
        }
        SysvIpc.set(noun() + " " + perm.describe(), ctl(), id, SysvIpc.stat(noun() + " " + id, ctl(), id, SysvIpc.SHMID_DS_BYTES),
            perm.uid(), perm.gid(), perm.mode());
        if (!saved.content().isEmpty()) {
            long at = Syscall.call("shmat(" + perm.describe() + ")", SysvIpc.SHMAT, id, 0, 0);
            int self = Linux.open("/proc/self/mem", Linux.O_RDWR | Linux.O_CLOEXEC, 0);
            try {
                for (Piece p : saved.content()) {
                    if (p.offset() < 0 || p.offset() + p.bytes().length > saved.size()) {
                        throw new FailedException(noun() + " " + perm.describe() + " has bytes at " + p.offset()
                            + " beyond its size " + saved.size() + " in the image; the image is inconsistent");
                    }
                    NativeMemory bytes = NativeMemory.allocate(p.bytes().length);
                    bytes.put(0, p.bytes());
                    Syscall.call("write into " + noun() + " " + perm.describe(), Nr.PWRITE64, self, bytes.address(), p.bytes().length,
                        at + p.offset());
                }
            } finally {
                Linux.close(self);
                Syscall.call("shmdt(" + perm.describe() + ")", SysvIpc.SHMDT, at);
            }
        }
        if ((perm.mode() & SysvIpc.SHM_LOCKED) != 0) {
            Syscall.call("shmctl(" + perm.describe() + ", SHM_LOCK)", SysvIpc.SHMCTL, id, SysvIpc.SHM_LOCK, 0);
        }
        return id;
    }

    @Override
    void replay(Saved saved, MemberPuppets members) {
        // the members attach it as they build their mappings
    }

    /** Whether the segment was removed while attached: it is removed again once the members have it attached. */
    static boolean removedWhileAttached(Saved saved) {
        return (saved.perm().mode() & SysvIpc.SHM_DEST) != 0;
    }

    static boolean isSysv(MapsEntry e) {
        return e.path().startsWith("/SYSV");
    }
}
