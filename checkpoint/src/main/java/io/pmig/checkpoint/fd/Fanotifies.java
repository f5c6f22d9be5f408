package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * fanotify groups of the notification class: fanotify_init's flags and event file flags, and each mark with its
 * object (a file or directory, named by its file handle as inotify's watches are: {@link Inotifies#pathOf}; a mount,
 * by its mount id; a filesystem, by its device), mask, ignored mask and flags, as fdinfo shows them
 * (fs/notify/fdinfo.c; linux/fanotify.h). The restore makes the group and marks the same paths again. Events queued
 * and not read make the process unsettled. Refused: the permission classes (an access request read and not answered
 * yet would be lost with the group), and mark kinds fdinfo shows that are not above.
 */
public final class Fanotifies implements FileKind<Fanotifies.State> {
    /** fcntl.h */
    private static final int FD_CLOEXEC = 1;
    private static final int FAN_CLASS_BITS = 0xc;
    private static final int FAN_MARK_ADD = 0x1;
    private static final int FAN_MARK_MOUNT = 0x10;
    private static final int FAN_MARK_IGNORED_MASK = 0x20;
    private static final int FAN_MARK_IGNORED_SURV_MODIFY = 0x40;
    private static final int FAN_MARK_FILESYSTEM = 0x100;
    private static final int FAN_MARK_EVICTABLE = 0x200;
    private static final int FAN_MARK_IGNORE = 0x400;
    private static final int AT_FDCWD = -100;

    /** What a mark is on: {@code FAN_MARK_MOUNT}, {@code FAN_MARK_FILESYSTEM} or 0 (an inode), and its path. */
    public record Mark(int on, String path, int flags, int mask, int ignoredMask) {
    }

    /** {@code flags}: fanotify_init's, as given; {@code eventFlags}: the flags of the event files it opens. */
    @ImageKind("file.fanotify")
    public record State(int id, int flags, int eventFlags, List<Mark> marks) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().equals("anon_inode:[fanotify]");
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        Inotifies.requireNoEvents(file, "fanotify");
        int flags = 0;
        int eventFlags = 0;
        List<Mark> marks = new ArrayList<>();
        for (String line : file.fdinfoText().split("\n")) {
            if (!line.startsWith("fanotify ")) {
                continue;
            }
            Map<String, String> f = Inotifies.fields(line);
            if (f.containsKey("event-flags")) {
                flags = (int) Long.parseLong(f.get("flags"), 16);
                eventFlags = (int) Long.parseLong(f.get("event-flags"), 16);
                if ((flags & FAN_CLASS_BITS) != 0) {
                    throw new RefusedException(file.describe() + ": fanotify of a permission class (FAN_CLASS_CONTENT or "
                        + "FAN_CLASS_PRE_CONTENT): an access request read and not answered yet would be lost with it");
                }
                continue;
            }
            marks.add(markOf(file, f, line));
        }
        return new State(id, flags, eventFlags, marks);
    }

    private static Mark markOf(OpenFile file, Map<String, String> f, String line) {
        int flags = Integer.parseInt(f.get("mflags"), 16);
        int mask = (int) Long.parseLong(f.get("mask"), 16);
        int ignored = (int) Long.parseLong(f.get("ignored_mask"), 16);
        if (f.containsKey("ino")) {
            String path = Inotifies.pathOf(file, "fanotify mark of inode " + f.get("ino"), Long.parseLong(f.get("sdev"), 16),
                Integer.parseInt(f.get("fhandle-type"), 16), HexFormat.of().parseHex(f.get("f_handle")));
            return new Mark(0, path, flags, mask, ignored);
        }
        if (f.containsKey("mnt_id")) {
            return new Mark(FAN_MARK_MOUNT, mountPoint(file, Integer.parseInt(f.get("mnt_id"), 16)), flags, mask, ignored);
        }
        if (f.containsKey("sdev")) {
            String mount = Inotifies.mountOf(Long.parseLong(f.get("sdev"), 16));
            if (mount == null) {
                throw new RefusedException(file.describe() + ": fanotify marks a filesystem no mount here shows (" + line.trim() + ")");
            }
            return new Mark(FAN_MARK_FILESYSTEM, mount, flags, mask, ignored);
        }
        throw new RefusedException(file.describe() + ": fanotify mark of a kind not supported yet (" + line.trim() + ")");
    }

    /** The mount point of mount {@code id} of the process (/proc/PID/mountinfo). */
    private static String mountPoint(OpenFile file, int id) {
        Path mountinfo = Path.of("/proc", Integer.toString(file.pid()), "mountinfo");
        try {
            for (String line : Files.readAllLines(mountinfo)) {
                String[] f = line.split(" ");
                if (f.length > 4 && Integer.parseInt(f[0]) == id) {
                    return f[4].replace("\\040", " ");
                }
            }
        } catch (IOException e) {
            throw new FailedException(file.describe() + ": cannot read " + mountinfo + ": " + e.getMessage(), e);
        }
        throw new RefusedException(file.describe() + ": fanotify marks mount " + id + ", which the process's mounts no longer show");
    }

    @Override
    public void checkRestorable(State state) {
        for (Mark m : state.marks()) {
            if (!Files.exists(Path.of(m.path()), LinkOption.NOFOLLOW_LINKS)) {
                throw new RefusedException("a fanotify mark is on " + m.path() + ", which does not exist on this host");
            }
        }
    }

    @Override
    public int open(State state, RestoreContext context) {
        // the group keeps fanotify_init's flags as given (fdinfo shows FAN_CLOEXEC too): the engine's copy is made
        // close-on-exec by fcntl instead
        int fd = context.hold((int) Syscall.call("fanotify_init", Nr.FANOTIFY_INIT, state.flags(), state.eventFlags()));
        Linux.fcntl(fd, Linux.F_SETFD, FD_CLOEXEC);
        for (Mark m : state.marks()) {
            NativeMemory path = Linux.cString(m.path());
            int kept = m.flags() & FAN_MARK_EVICTABLE;
            if (m.mask() != 0) {
                mark(fd, FAN_MARK_ADD | m.on() | kept, m.mask(), path, m.path());
            }
            if (m.ignoredMask() != 0) {
                // FAN_MARK_IGNORE (Linux 6.0+) or the older ignored mask, and whether it survives a modification
                int ignore = (m.flags() & FAN_MARK_IGNORE) != 0 ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK;
                mark(fd, FAN_MARK_ADD | m.on() | kept | ignore | (m.flags() & FAN_MARK_IGNORED_SURV_MODIFY), m.ignoredMask(), path,
                    m.path());
            }
        }
        return fd;
    }

    private static void mark(int fd, int flags, int mask, NativeMemory path, String name) {
        Syscall.call("fanotify_mark(" + name + ", " + Integer.toHexString(flags) + ", " + Integer.toHexString(mask) + ")",
            Nr.FANOTIFY_MARK, fd, flags, Integer.toUnsignedLong(mask), AT_FDCWD, path.address());
    }
}
