package io.pmig.checkpoint.carried;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.fd.FdDumper;
import io.pmig.checkpoint.fd.FdImage;
import io.pmig.checkpoint.fd.FileState;
import io.pmig.checkpoint.fd.RegularFiles;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Shmem;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.nativeio.SyscallException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The files a checkpoint carries ({@link CarriedFile}): it tells them from files on shared storage while descriptors
 * and mappings are dumped, and reads each once for the images of a tree, in the image of the first process that holds
 * or maps it. A file above {@value #MAX_BYTES_PROPERTY} (a system property; {@value #DEFAULT_MAX_BYTES} bytes unless
 * set, at most {@value #FORMAT_MAX_BYTES}: the file's bytes fill one OBJECT record, base64) is refused by name.
 */
public final class CarriedFiles {
    public static final String MAX_BYTES_PROPERTY = "pmig.carriedFileMaxBytes";
    static final long DEFAULT_MAX_BYTES = 16L << 20;
    public static final long FORMAT_MAX_BYTES = 46L << 20;
    private static final String DELETED = " (deleted)";
    private static final String MEMFD = "/memfd:";

    private final Set<String> saved = new HashSet<>();

    /**
     * The key under which the regular file behind {@code opened} (a /proc magic link: /proc/PID/fd/N or
     * /proc/PID/map_files/START-END) travels in the image, or null if it is on storage a restore host shares (re-opened
     * by path) or not a regular file. {@code link}: the name /proc shows for it; {@code what}: the descriptor or mapping,
     * for a refusal.
     */
    public static String keyOf(Path opened, String link, Supplier<String> what) {
        Map<String, Object> a = attributes(opened);
        if (!(Boolean) a.get("isRegularFile") || kindOf(opened, link, a) == null) {
            return null;
        }
        long size = (Long) a.get("size");
        long max = maxBytes();
        if (size > max) {
            throw new RefusedException(what.get() + " is a file of " + size + " bytes whose contents would travel in the image "
                + "(tmpfs, deleted or memfd: no other host has it); pmig carries such files up to " + max + " bytes (system property "
                + MAX_BYTES_PROPERTY + ", at most " + FORMAT_MAX_BYTES + ")");
        }
        return keyAt(opened);
    }

    /**
     * The name of a file that running process {@code pid} maps and whose contents would travel in its image, or null if
     * none does. A mapping gone while looked at is passed over. (One only held open travels in a pre-copy's last part.)
     */
    public static String firstMappedIn(int pid) {
        ProcFs proc = new ProcFs(pid);
        for (MapsEntry e : proc.maps()) {
            // shared anonymous memory and System V segments show as deleted files, and are no files to carry
            if (e.fileBacked() && !e.path().startsWith("/dev/zero") && !e.path().startsWith("/SYSV")
                    && carriedWhileRunning(proc.mapFile(e.start(), e.end()), e.path())) {
                return e.path();
            }
        }
        return null;
    }

    private static boolean carriedWhileRunning(Path opened, String link) {
        try {
            return keyOf(opened, link, () -> link) != null;
        } catch (RefusedException | SyscallException e) {
            // gone meanwhile (a server maps a file per request: another may be mapped at the same address by now, so the
            // link's existence says nothing), or one a checkpoint refuses (too large): the bundle's checkpoint says so by name
            boolean gone = e.getCause() instanceof java.nio.file.NoSuchFileException
                || e instanceof SyscallException s && s.errno() == io.pmig.nativeio.Errno.ENOENT;
            return !gone && Files.exists(opened, LinkOption.NOFOLLOW_LINKS);
        }
    }

    /**
     * The carried files that process {@code hostPid} (frozen) maps or holds open and no image of its tree saved before,
     * read now; {@code mappings} and {@code fds} are its dumped mappings and descriptors.
     */
    public List<CarriedFile> newIn(int hostPid, List<MappingImage> mappings, FdDumper.Result fds) {
        List<CarriedFile> out = new ArrayList<>();
        ProcFs proc = new ProcFs(hostPid);
        for (MappingImage m : mappings) {
            if (m.carried() != null && saved.add(m.carried())) {
                out.add(read(m.carried(), m.name(), proc.mapFile(m.start(), m.end())));
            }
        }
        for (FileState s : fds.files()) {
            if (s instanceof RegularFiles.State file && file.carried() != null && saved.add(file.carried())) {
                FdImage fd = fds.fds().stream().filter(f -> f.fileId() == file.id()).findFirst().orElseThrow();
                out.add(read(file.carried(), file.path(), proc.path("fd/" + fd.fd())));
            }
        }
        return out;
    }

    private static CarriedFile read(String key, String link, Path opened) {
        Map<String, Object> a = attributes(opened);
        CarriedFile.Kind kind = kindOf(opened, link, a);
        String path = switch (kind) {
            case MEMFD -> link.substring(MEMFD.length(), link.length() - DELETED.length());
            case DELETED -> link.substring(0, link.length() - DELETED.length());
            case TMPFS -> link;
        };
        int seals = 0;
        if (kind == CarriedFile.Kind.MEMFD) {
            int fd = Linux.open(opened.toString(), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
            try {
                seals = Linux.fcntl(fd, Shmem.F_GET_SEALS, 0);
            } finally {
                Linux.close(fd);
            }
        }
        try {
            return new CarriedFile(key, kind, path, (Integer) a.get("mode") & 07777, (Integer) a.get("uid"), (Integer) a.get("gid"),
                seals, bootId(), pieces(opened));
        } catch (IOException e) {
            throw new FailedException("cannot read " + link + " (" + opened + ") to carry it in the image: " + e.getMessage(), e);
        }
    }

    /** Every byte of the file at {@code path}, in pieces of {@link CarriedFile#PIECE} (the last one shorter). */
    static List<byte[]> pieces(Path path) throws IOException {
        List<byte[]> out = new ArrayList<>();
        try (InputStream in = Files.newInputStream(path)) {
            for (byte[] piece = in.readNBytes(CarriedFile.PIECE); piece.length > 0; piece = in.readNBytes(CarriedFile.PIECE)) {
                out.add(piece);
            }
        }
        return out;
    }

    /** What kind of carried file {@code opened} is, or null for a file re-opened by path. */
    private static CarriedFile.Kind kindOf(Path opened, String link, Map<String, Object> attributes) {
        if (link.startsWith(MEMFD) && link.endsWith(DELETED)) {
            if (Shmem.filesystemType(opened.toString()) != Shmem.TMPFS_MAGIC) {
                throw new RefusedException(link + " is a memfd of huge pages (MFD_HUGETLB), which is not supported yet");
            }
            return CarriedFile.Kind.MEMFD;
        }
        if (link.endsWith(DELETED) && !namesFile(Path.of(link), attributes)) {
            // unlinked (st_nlink 0), or this name of it was (another link may live on): not to be found by path
            return CarriedFile.Kind.DELETED;
        }
        return Shmem.filesystemType(opened.toString()) == Shmem.TMPFS_MAGIC ? CarriedFile.Kind.TMPFS : null;
    }

    /** Whether {@code path} names the file with {@code attributes} (a file may be called "x (deleted)"). */
    private static boolean namesFile(Path path, Map<String, Object> attributes) {
        return Files.exists(path, LinkOption.NOFOLLOW_LINKS) && keyAt(path).equals(attributes.get("dev") + ":" + attributes.get("ino"));
    }

    /** This host's current boot, which a file's device and inode are unique within. */
    static String bootId() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
        } catch (IOException e) {
            throw new FailedException("cannot read /proc/sys/kernel/random/boot_id: " + e.getMessage(), e);
        }
    }

    /** The key of the file at {@code path} (followed if a link), as {@link #keyOf} names it. */
    static String keyAt(Path path) {
        Map<String, Object> a = attributes(path);
        return a.get("dev") + ":" + a.get("ino");
    }

    private static Map<String, Object> attributes(Path opened) {
        try {
            return Files.readAttributes(opened, "unix:dev,ino,size,mode,uid,gid,isRegularFile");
        } catch (IOException e) {
            throw new RefusedException(opened + " cannot be examined: " + e.getMessage(), e);
        }
    }

    /** The most bytes an image carries of one file (or System V segment), as {@value #MAX_BYTES_PROPERTY} sets it. */
    public static long maxBytes() {
        String set = System.getProperty(MAX_BYTES_PROPERTY);
        if (set == null) {
            return DEFAULT_MAX_BYTES;
        }
        try {
            return Math.min(Long.parseLong(set.trim()), FORMAT_MAX_BYTES);
        } catch (NumberFormatException e) {
            throw new RefusedException("system property " + MAX_BYTES_PROPERTY + " is '" + set + "', not a number of bytes");
        }
    }
}
