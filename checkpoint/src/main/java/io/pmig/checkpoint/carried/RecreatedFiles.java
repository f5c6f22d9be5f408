package io.pmig.checkpoint.carried;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Shmem;
import io.pmig.nativeio.SyscallException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The carried files of a tree being restored ({@link CarriedFile}), each recreated once, when the first image that
 * carries it arrives, and held by the engine until the restore ends: every descriptor (a new open file description
 * through /proc/self/fd) and every mapping of it in any process of the tree refers to that one file again.
 */
public final class RecreatedFiles implements AutoCloseable {
    /**
     * Read-only: a descriptor open for writing would keep the file from becoming a restored process's executable
     * (PR_SET_MM_MAP's exe_fd denies write access, EACCES) when one maps its executable from tmpfs.
     */
    private final Map<String, Integer> files = new HashMap<>();
    /** Read-write descriptors, opened for the shared writable mappings that need one. */
    private final Map<String, Integer> writable = new HashMap<>();

    /**
     * Refuses, before anything is created, a tmpfs file that is at its path here with other contents than the image
     * carries (unless it is the very file, on the host it came from), or that is to be created in a directory this host
     * lacks.
     */
    public static void precheck(ImageObjects image) {
        for (CarriedFile f : image.all(CarriedFile.class)) {
            if (f.type() != CarriedFile.Kind.TMPFS) {
                continue;
            }
            Path path = Path.of(f.path());
            if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                requireUsable(f);
            } else if (path.getParent() == null || !Files.isDirectory(path.getParent())) {
                throw new RefusedException(f.describe() + " is to be created with the contents the image carries, but its "
                    + "directory " + path.getParent() + " does not exist on this host; create it and restore again");
            }
        }
    }

    /** Recreates the files {@code image} carries that no image of the tree carried before it. */
    public void recreate(ImageObjects image) {
        for (CarriedFile f : image.all(CarriedFile.class)) {
            if (!files.containsKey(f.key())) {
                files.put(f.key(), create(f));
            }
        }
    }

    /**
     * The engine's descriptor of carried file {@code key}, read-write if {@code forWriting} (a shared writable mapping),
     * else read-only; {@code user} names who refers to it.
     */
    public int fd(String key, boolean forWriting, Supplier<String> user) {
        Integer fd = files.get(key);
        if (fd == null) {
            throw new FailedException(user.get() + " refers to carried file " + key
                + ", which no image of the tree before it carries; the image is inconsistent");
        }
        return forWriting ? writable.computeIfAbsent(key, k -> reopen(fd, Linux.O_RDWR)) : fd;
    }

    /** A new open file description of carried file {@code key}, opened with {@code flags} (open(2)), close-on-exec. */
    public int reopen(String key, int flags, Supplier<String> user) {
        return reopen(fd(key, false, user), flags);
    }

    private static int reopen(int fd, int flags) {
        return Linux.open("/proc/self/fd/" + fd, flags | Linux.O_CLOEXEC, 0);
    }

    private static int create(CarriedFile f) {
        boolean existing = f.type() == CarriedFile.Kind.TMPFS && Files.exists(Path.of(f.path()), LinkOption.NOFOLLOW_LINKS);
        if (existing) {
            requireUsable(f);     // it may have changed since the pre-flight
            return Linux.open(f.path(), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        }
        int fd = switch (f.type()) {
            case TMPFS -> Linux.open(f.path(), Linux.O_RDWR | Linux.O_CREAT | Linux.O_EXCL | Linux.O_CLOEXEC, f.mode());
            case DELETED -> unnamed(f);
            case MEMFD -> Shmem.memfdCreate(f.path(), Shmem.MFD_CLOEXEC | Shmem.MFD_ALLOW_SEALING);
        };
        try {
            for (byte[] piece : f.content()) {
                Linux.writeFully(fd, piece);
            }
            Shmem.fchmod(fd, f.mode());
            Linux.fchown(fd, f.uid(), f.gid());
            if (f.seals() != 0) {
                Linux.fcntl(fd, Shmem.F_ADD_SEALS, f.seals());
            }
            return reopen(fd, Linux.O_RDONLY);
        } finally {
            Linux.close(fd);
        }
    }

    /** A file without a name for a deleted one: in its directory if this host has it (O_TMPFILE), else a memfd. */
    private static int unnamed(CarriedFile f) {
        Path directory = Path.of(f.path()).getParent();
        if (directory != null && Files.isDirectory(directory)) {
            try {
                return Linux.open(directory.toString(), Shmem.O_TMPFILE | Linux.O_RDWR | Linux.O_CLOEXEC, f.mode());
            } catch (SyscallException e) {
                // a filesystem without O_TMPFILE (EOPNOTSUPP): a memfd holds the same bytes
            }
        }
        Path name = Path.of(f.path()).getFileName();
        return Shmem.memfdCreate(name == null ? "deleted" : name.toString(), Shmem.MFD_CLOEXEC);
    }

    /**
     * Refuses the file at a carried tmpfs file's path unless it holds the same bytes, or is the very file the process
     * had (same boot of the same host, same device and inode): its contents may have moved on then (a log others append
     * to), as they would have under a process that ran on.
     */
    private static void requireUsable(CarriedFile f) {
        Path path = Path.of(f.path());
        if (CarriedFiles.bootId().equals(f.bootId()) && CarriedFiles.keyAt(path).equals(f.key())) {
            return;
        }
        long size;
        try {
            size = Files.size(path);
            if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) && size == f.size()
                    && samePieces(CarriedFiles.pieces(path), f.content())) {
                return;
            }
        } catch (IOException e) {
            throw new RefusedException(f.describe() + " cannot be read to compare it with the image's: " + e.getMessage(), e);
        }
        throw new RefusedException(f.describe() + " exists on this host with other contents (" + size + " bytes) than the process "
            + "had at the checkpoint (" + f.size() + " bytes); tmpfs is not shared storage, so the image carries the file: "
            + "remove or rename the one here and restore again");
    }

    private static boolean samePieces(List<byte[]> a, List<byte[]> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!Arrays.equals(a.get(i), b.get(i))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() {
        files.values().forEach(Linux::close);
        files.clear();
        writable.values().forEach(Linux::close);
        writable.clear();
    }
}
