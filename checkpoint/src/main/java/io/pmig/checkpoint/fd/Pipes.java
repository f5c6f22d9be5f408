package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.nativeio.Syscall;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Pipes and FIFOs with the data buffered in them. The data is copied with tee(2), which
 * leaves it in place, and is saved with the read end (a FIFO the process holds only for writing
 * is read through a reader of the dump's own); both ends of an anonymous pipe must belong to the
 * process. Each open file description comes back as one of its own, with its own flags: the pipe is
 * created once and each end reopened through /proc/self/fd.
 */
public final class Pipes implements FileKind<Pipes.State> {
    private static final long FIONREAD = 0x541B;
    private static final int SPLICE_F_NONBLOCK = 2;

    /** {@code fifo} is the FIFO's path, or null for an anonymous pipe; {@code data} only on read ends. */
    @ImageKind("file.pipe")
    public record State(int id, long pipe, String fifo, int flags, int capacity, byte[] data) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().startsWith("pipe:[") || isFifo(file.link());
    }

    private static boolean isFifo(String link) {
        if (!link.startsWith("/")) {
            return false;
        }
        try {
            return Files.getAttribute(Path.of(link), "unix:mode", LinkOption.NOFOLLOW_LINKS) instanceof Integer mode
                && (mode & 0170000) == 0010000;
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        boolean fifo = !file.link().startsWith("pipe:");
        long pipe = fifo ? inodeOf(file.link()) : file.linkInode();
        int flags = file.statusFlags();
        boolean readEnd = (flags & Linux.O_ACCMODE) != Linux.O_WRONLY;
        if (!fifo && !bothEndsIn(context, file)) {
            throw new RefusedException(file.describe() + ": the other end of this pipe is held by a process outside the tree "
                + "being moved; move the processes together, or give the service a pipe of its own or a file");
        }
        int capacity = Linux.fcntl(file.local(), Linux.F_GETPIPE_SZ, 0);
        byte[] data = null;
        if (readEnd) {
            data = peek(file.local(), capacity);
        } else if (fifo && !readEndIn(context, file)) {
            int reader = Linux.open(file.link(), Linux.O_RDONLY | Linux.O_NONBLOCK | Linux.O_CLOEXEC, 0);
            try {
                data = peek(reader, capacity);
            } finally {
                Linux.close(reader);
            }
        }
        return new State(id, pipe, fifo ? file.link() : null, flags, capacity, data);
    }

    private static boolean readEndIn(DumpContext context, OpenFile file) {
        return context.treeFiles().stream()
            .anyMatch(f -> f.link().equals(file.link()) && (f.statusFlags() & Linux.O_ACCMODE) != Linux.O_WRONLY);
    }

    private static long inodeOf(String path) {
        try {
            return (Long) Files.getAttribute(Path.of(path), "unix:ino", LinkOption.NOFOLLOW_LINKS);
        } catch (java.io.IOException e) {
            throw new RefusedException("FIFO " + path + " cannot be examined: " + e.getMessage(), e);
        }
    }

    private static boolean bothEndsIn(DumpContext context, OpenFile file) {
        boolean read = false;
        boolean write = false;
        for (OpenFile f : context.treeFiles()) {
            if (f.link().equals(file.link())) {
                int mode = f.statusFlags() & Linux.O_ACCMODE;
                read |= mode != Linux.O_WRONLY;
                write |= mode != Linux.O_RDONLY;
            }
        }
        return read && write;
    }

    /** The bytes buffered in the pipe, copied with tee so the pipe keeps them. */
    private static byte[] peek(int pipe, int capacity) {
        NativeMemory n = NativeMemory.allocate(4);
        Syscall.call("ioctl(FIONREAD)", Nr.IOCTL, pipe, FIONREAD, n.address());
        int queued = n.getInt(0);
        if (queued == 0) {
            return new byte[0];
        }
        int[] copy = Linux.pipe(Linux.O_CLOEXEC);
        try {
            Linux.fcntl(copy[1], Linux.F_SETPIPE_SZ, capacity);
            long teed = Linux.tee(pipe, copy[1], queued, SPLICE_F_NONBLOCK);
            NativeMemory data = NativeMemory.allocate(Math.max(1, teed));
            long got = 0;
            while (got < teed) {
                got += Linux.read(copy[0], data.address() + got, teed - got);
            }
            return data.bytes(0, (int) teed);
        } finally {
            Linux.close(copy[0]);
            Linux.close(copy[1]);
        }
    }

    @Override
    public int open(State state, RestoreContext context) {
        int[] pipe = context.pair("pipe:" + state.pipe(), () -> create(state));
        if (state.data() != null && state.data().length > 0 && context.once("pipe-data:" + state.pipe())) {
            Linux.writeFully(pipe[1], state.data());
        }
        if (state.fifo() != null) {
            return context.hold(Linux.open(state.fifo(), (state.flags() & ~Linux.O_CREAT) | Linux.O_CLOEXEC, 0));
        }
        int end = (state.flags() & Linux.O_ACCMODE) == Linux.O_WRONLY ? pipe[1] : pipe[0];
        // a description of its own: two of one end (one reopened through /proc) keep their own flags
        return context.hold(Linux.open("/proc/self/fd/" + end,
            (state.flags() & (Linux.O_ACCMODE | Linux.O_NONBLOCK | Linux.O_APPEND)) | Linux.O_CLOEXEC, 0));
    }

    private static int[] create(State state) {
        int[] fds;
        if (state.fifo() != null) {
            // O_RDWR opens a FIFO without waiting for a peer and keeps its pipe alive meanwhile
            int both = Linux.open(state.fifo(), Linux.O_RDWR | Linux.O_NONBLOCK | Linux.O_CLOEXEC, 0);
            fds = new int[] {both, Linux.fcntl(both, Linux.F_DUPFD_CLOEXEC, 0)};
        } else {
            fds = Linux.pipe(Linux.O_CLOEXEC);
        }
        Linux.fcntl(fds[1], Linux.F_SETPIPE_SZ, state.capacity());
        return fds;
    }
}
