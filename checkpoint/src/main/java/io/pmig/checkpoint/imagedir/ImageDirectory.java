package io.pmig.checkpoint.imagedir;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.SyscallException;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * An image directory holds a process's memory and the credentials it is restored with, so only its
 * owner, root, may read or change it: it is created 0700, its files 0600 and always new
 * ({@code O_CREAT|O_EXCL|O_NOFOLLOW}: nothing planted there is followed, truncated or overwritten), and a
 * directory someone else owns or may write to is refused before anything is touched.
 */
public final class ImageDirectory {
    private static final Set<PosixFilePermission> GROUP_OR_OTHERS_WRITE =
        Set.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE);
    private static final FileAttribute<Set<PosixFilePermission>> DIRECTORY_MODE =
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
    private static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    private static final Set<OpenOption> CREATE_NEW =
        Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);

    private ImageDirectory() {
    }

    /** For a checkpoint: creates {@code dir} 0700 (its missing parents as usual), or refuses an existing one that is not safe. */
    public static void prepare(Path dir) {
        try {
            if (dir.getParent() != null) {
                Files.createDirectories(dir.getParent());
            }
            Files.createDirectory(dir, DIRECTORY_MODE);
        } catch (FileAlreadyExistsException exists) {
            // checked below, like any existing directory
        } catch (IOException e) {
            throw new RefusedException("cannot create image directory " + dir + ": " + e.getMessage(), e);
        }
        requireSafe(dir);
    }

    /**
     * Refuses {@code dir} unless it is a directory (not a symbolic link) of this process's user, root, that
     * neither group nor others may write: anyone else could replace the image, or plant links in it.
     */
    public static void requireSafe(Path dir) {
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new RefusedException("cannot read image directory " + dir + ": " + e.getMessage(), e);
        }
        if (!attributes.isDirectory()) {
            throw new RefusedException("image directory " + dir + " is " + (attributes.isSymbolicLink() ? "a symbolic link" : "not a directory")
                + "; give the directory itself (pmig creates it, mode 0700, if it does not exist)");
        }
        int owner = ownerUid(dir);
        int me = effectiveUid();
        if (owner != me) {
            throw new RefusedException("image directory " + dir + " belongs to uid " + owner + ", not to uid " + me + " (root), who"
                + " could change the image or plant links in it; use a new directory (pmig creates it, mode 0700) or chown " + me
                + " " + dir);
        }
        Set<PosixFilePermission> permissions = attributes.permissions();
        if (permissions.stream().anyMatch(GROUP_OR_OTHERS_WRITE::contains)) {
            throw new RefusedException("image directory " + dir + " is writable by group or others (" + PosixFilePermissions.toString(permissions)
                + "), who could change the image or plant links in it; chmod 700 " + dir + " or use a new directory");
        }
    }

    /** Creates {@code file} new, mode 0600, never following a link or opening what is there already. */
    public static FileChannel createNew(Path file) {
        try {
            return FileChannel.open(file, CREATE_NEW, FILE_MODE);
        } catch (FileAlreadyExistsException e) {
            throw new RefusedException(file + " exists already (left by an interrupted checkpoint, or planted); pmig never"
                + " writes through an existing file: look at it, remove it, and retry", e);
        } catch (IOException e) {
            throw new RefusedException("cannot create " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Gives {@code file}, just {@link #createNew made new}, its blocks for {@code bytes} now, growing it to that size: an
     * image is reserved before the freeze, and writing it while the process is frozen then allocates nothing (on tmpfs,
     * allocating a new file's pages as it is written took as long as copying into them: 100 MB written in 25-85 ms into a
     * new file, 16-19 ms into one reserved in 8 ms). The writer truncates the file to what it wrote. Best effort: on a
     * filesystem without fallocate, or short of space, the file is allocated as it is written, as before.
     */
    public static void reserve(Path file, long bytes) {
        int fd;
        try {
            fd = Linux.open(file.toString(), Linux.O_WRONLY | Linux.O_NOFOLLOW | Linux.O_CLOEXEC, 0);
        } catch (SyscallException e) {
            return;         // out of descriptors, say: the checkpoint that writes it will say so
        }
        try {
            Linux.fallocate(fd, 0, bytes);
        } finally {
            Linux.close(fd);
        }
    }

    /** This process's effective uid (root's 0 for pmig). */
    static int effectiveUid() {
        return Integer.parseInt(new ProcFs((int) ProcessHandle.current().pid()).status().get("Uid").split("\\s+")[1]);
    }

    static int ownerUid(Path file) {
        try {
            return (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new RefusedException("cannot read the owner of " + file + ": " + e.getMessage(), e);
        }
    }
}
