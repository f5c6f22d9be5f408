package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.UnsettledException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;

/**
 * inotify: each watch with its number, mask and the path of what it watches. The fdinfo of an inotify descriptor
 * (fs/notify/fdinfo.c) names a watched inode by its file handle; the engine opens it (open_by_handle_at, through a
 * mount of its device) to learn its path, and the restore watches that path again with the same watch number, which
 * the process compares events against. Events queued and not read yet cannot be put back: the process is let run
 * until it has read them (unsettled), as for a listener's queue.
 */
public final class Inotifies implements FileKind<Inotifies.State> {
    /** ioctl(FIONREAD), asm-generic/ioctls.h */
    private static final long FIONREAD = 0x541B;
    /** How far past the last number a restore goes to give a watch its number back (numbers only grow). */
    private static final int MAX_SKIPPED_NUMBERS = 1 << 16;

    /** One watch: its number, the event mask (with IN_ONESHOT, IN_EXCL_UNLINK...) and the watched path. */
    public record Watch(int wd, int mask, String path) {
    }

    @ImageKind("file.inotify")
    public record State(int id, int flags, List<Watch> watches) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().equals("anon_inode:inotify");
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        requireNoEvents(file, "inotify");
        List<Watch> watches = new ArrayList<>();
        for (String line : file.fdinfoText().split("\n")) {
            if (line.startsWith("inotify ")) {
                watches.add(watchOf(file, line));
            }
        }
        watches.sort(Comparator.comparingInt(Watch::wd));
        return new State(id, file.statusFlags(), watches);
    }

    /** The "key:value" words of an fdinfo line after its first word ("inotify", "fanotify"), by key. */
    static java.util.Map<String, String> fields(String line) {
        java.util.Map<String, String> f = new java.util.HashMap<>();
        for (String word : line.substring(line.indexOf(' ') + 1).trim().split("\\s+")) {
            int colon = word.indexOf(':');
            f.put(word.substring(0, colon), word.substring(colon + 1));
        }
        return f;
    }

    /** The process is unsettled while {@code file} (an inotify or fanotify, {@code kind}) holds events it has not read. */
    static void requireNoEvents(OpenFile file, String kind) {
        NativeMemory queued = NativeMemory.allocate(4);
        Syscall.call("ioctl(FIONREAD) on " + file.describe(), Nr.IOCTL, file.local(), FIONREAD, queued.address());
        if (queued.getInt(0) > 0) {
            throw new UnsettledException(file.describe() + ": " + kind + " has " + queued.getInt(0) + " bytes of events the process"
                + " has not read, which cannot be put back");
        }
    }

    /** "inotify wd:1 ino:a2 sdev:800001 mask:100 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:a200..." */
    private static Watch watchOf(OpenFile file, String line) {
        java.util.Map<String, String> f = fields(line);
        int wd = Integer.parseInt(f.get("wd"), 16);
        int mask = (int) Long.parseLong(f.get("mask"), 16);
        long sdev = Long.parseLong(f.get("sdev"), 16);
        byte[] handle = HexFormat.of().parseHex(f.get("f_handle"));
        int type = Integer.parseInt(f.get("fhandle-type"), 16);
        return new Watch(wd, mask, pathOf(file, "inotify watch " + wd, sdev, type, handle));
    }

    /**
     * The path of the inode a watch's or mark's ({@code watch} names it) file handle names, found through a mount of its
     * device ({@code sdev}: the kernel's major << 20 | minor).
     */
    static String pathOf(OpenFile file, String watch, long sdev, int type, byte[] handle) {
        String mount = mountOf(sdev);
        if (mount == null) {
            throw new RefusedException(file.describe() + ": " + watch + " is on device " + (sdev >>> 20) + ":" + (sdev & 0xfffff)
                + ", which no mount here shows");
        }
        // not O_PATH: open_by_handle_at takes the mount's descriptor with fdget, which refuses an O_PATH one (EBADF)
        int mountFd = Linux.open(mount, Linux.O_RDONLY | Linux.O_DIRECTORY | Linux.O_CLOEXEC, 0);
        try {
            // struct file_handle (linux/fcntl.h): handle_bytes, handle_type, then the bytes
            NativeMemory h = NativeMemory.allocate(8L + handle.length);
            h.putInt(0, handle.length);
            h.putInt(4, type);
            h.put(8, handle);
            long fd = Syscall.tryCall(Nr.OPEN_BY_HANDLE_AT, mountFd, h.address(), Linux.O_PATH | Linux.O_CLOEXEC);
            if (Errno.isError(fd)) {
                throw new RefusedException(file.describe() + ": the file " + watch + " watches cannot be found ("
                    + Errno.describe((int) -fd) + "): deleted since?");
            }
            try {
                String path = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
                if (path.endsWith(" (deleted)")) {
                    throw new RefusedException(file.describe() + ": " + watch + " watches a deleted file (" + path + ")");
                }
                return path;
            } catch (IOException e) {
                throw new FailedException(file.describe() + ": cannot name the file of " + watch + ": " + e.getMessage(), e);
            } finally {
                Linux.close((int) fd);
            }
        } finally {
            Linux.close(mountFd);
        }
    }

    /** A mount point of device {@code sdev} (major << 20 | minor) in this mount namespace (/proc/self/mountinfo), or null. */
    static String mountOf(long sdev) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length > 4 && f[2].equals((sdev >>> 20) + ":" + (sdev & 0xfffff))) {
                    return f[4].replace("\\040", " ");
                }
            }
            return null;
        } catch (IOException e) {
            throw new FailedException("cannot read /proc/self/mountinfo: " + e.getMessage(), e);
        }
    }

    @Override
    public void checkRestorable(State state) {
        for (Watch w : state.watches()) {
            if (!Files.exists(Path.of(w.path()), LinkOption.NOFOLLOW_LINKS)) {
                throw new RefusedException("inotify watch " + w.wd() + " watches " + w.path() + ", which does not exist on this host");
            }
        }
    }

    /** A new inotify whose watches get their numbers back: a watch taken under a lower number is dropped and taken again. */
    @Override
    public int open(State state, RestoreContext context) {
        int fd = context.hold((int) Syscall.call("inotify_init1", Nr.INOTIFY_INIT1, (state.flags() & Linux.O_NONBLOCK) | Linux.O_CLOEXEC));
        for (Watch w : state.watches()) {
            NativeMemory path = Linux.cString(w.path());
            for (int attempt = 0; ; attempt++) {
                int wd = (int) Syscall.call("inotify_add_watch(" + w.path() + ")", Nr.INOTIFY_ADD_WATCH, fd, path.address(), w.mask());
                if (wd == w.wd()) {
                    break;
                }
                if (wd > w.wd() || attempt > MAX_SKIPPED_NUMBERS) {
                    throw new FailedException("inotify watch " + w.wd() + " on " + w.path() + " came back as watch " + wd
                        + "; its number cannot be given back");
                }
                Syscall.call("inotify_rm_watch(" + wd + ")", Nr.INOTIFY_RM_WATCH, fd, wd);
            }
        }
        drainIgnoredEvents(fd);
        return fd;
    }

    /** The IN_IGNORED events of the watches taken and dropped on the way: the process must not read them. */
    private static void drainIgnoredEvents(int fd) {
        NativeMemory queued = NativeMemory.allocate(4);
        Syscall.call("ioctl(FIONREAD)", Nr.IOCTL, fd, FIONREAD, queued.address());
        if (queued.getInt(0) > 0) {
            NativeMemory buffer = NativeMemory.allocate(queued.getInt(0));
            Linux.read(fd, buffer.address(), queued.getInt(0));
        }
    }
}
