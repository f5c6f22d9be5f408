package io.pmig.checkpoint.fd;

import io.pmig.nativeio.SyscallException;
import io.pmig.nativeio.Errno;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.ListenerBacklog;
import io.pmig.checkpoint.TcpConnection;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Sockets;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/** Saves the descriptor table: which number refers to which open file, and each file's state. */
public final class FdDumper {
    /** {@code socketsInRepair}: descriptors left in TCP repair mode, for {@link #leaveRepair} if the process goes on. */
    public record Result(List<FdImage> fds, List<FileState> files, List<DumpContext.SocketInRepair> socketsInRepair) {
    }

    /** Looks at a descriptor of a running process whose number keeps being reused this many times before giving up. */
    private static final int RUNNING_FD_ATTEMPTS = 5;

    private FdDumper() {
    }

    /**
     * Refuses, naming the descriptor, if any of them is of a kind that cannot be saved, or if the process has an AIO
     * context (which holds kernel objects as a descriptor does). Touches nothing.
     */
    public static void precheck(int pid) {
        AioContexts.refuse(pid);
        forEachWhileRunning(pid, f -> {
            FileKind<?> kind = kindOf(f);
            if (kind == null) {
                throw new RefusedException("fd " + f.fd() + " of process " + pid + ": " + FileKinds.describeUnsupported(f)
                    + " is not supported yet");
            }
            if (kind instanceof RegularFiles) {
                RegularFiles.identifyAhead(f);
            }
        });
    }

    /** The TCP connections of process {@code pid} (listeners left out), by their two ends, read while it runs. Touches nothing. */
    public static List<TcpConnection> tcpConnections(int pid) {
        List<TcpConnection> connections = new ArrayList<>();
        forEachWhileRunning(pid, f -> {
            TcpConnection connection = kindOf(f) instanceof TcpSockets ? TcpSockets.connectionOf(f) : null;
            if (connection != null && !connections.contains(connection)) {
                connections.add(connection);
            }
        });
        return connections;
    }

    /**
     * Runs {@code look} on each descriptor of process {@code pid} while it runs, so a descriptor may close between
     * reading its link and its state, and its number may be taken again at once (a server accepting all the time):
     * a descriptor closed meanwhile is passed over, one whose number was taken again is looked at anew. {@code look}
     * must be idempotent.
     */
    private static void forEachWhileRunning(int pid, Consumer<OpenFile> look) {
        ProcFs proc = new ProcFs(pid);
        int pidfd = Linux.pidfdOpen(pid);
        try {
            for (int fd : proc.fds()) {
                for (int attempt = 1; ; attempt++) {
                    try (OpenFile f = new OpenFile(proc, pidfd, fd)) {
                        look.accept(f);
                        break;
                    } catch (UncheckedIOException | SyscallException | RefusedException e) {
                        // a busy server closes descriptors as they are looked at: what vanished refuses nothing
                        if (closedMeanwhile(proc, fd)) {
                            break;
                        }
                        if (attempt == RUNNING_FD_ATTEMPTS) {
                            throw e;
                        }
                    }
                }
            }
        } finally {
            Linux.close(pidfd);
        }
    }

    /**
     * The TCP listeners of process {@code pid} with the connections they hold not accepted yet and the handshakes
     * under way to them, read while it runs (sock_diag of the caller's network namespace, the process's). Touches nothing.
     */
    public static List<ListenerBacklog> listenerBacklogs(int pid) {
        ProcFs proc = new ProcFs(pid);
        Set<Long> inodes = new HashSet<>();
        for (int fd : proc.fds()) {
            // links only, no descriptor taken: this runs every millisecond while a busy server's descriptors come and go
            for (int attempt = 1; ; attempt++) {
                try {
                    String link = proc.readLink("fd/" + fd);
                    if (link.startsWith("socket:[")) {
                        inodes.add(Long.parseLong(link.substring(8, link.length() - 1)));
                    }
                    break;
                } catch (UncheckedIOException e) {
                    if (closedMeanwhile(proc, fd)) {
                        break;
                    }
                    if (attempt == RUNNING_FD_ATTEMPTS) {
                        throw e;
                    }
                }
            }
        }
        return inodes.isEmpty() ? List.of() : InetDiag.listenerBacklogs(inodes);
    }

    /** Dumps every descriptor of process {@code pid}: {@link #dumpTree} of a tree of one. */
    public static Result dump(int pid) {
        return dumpTree(List.of(pid)).get(0);
    }

    /**
     * Dumps every descriptor of every process of {@code pids} (frozen), one result each in that order, with one id
     * space: an open file description held by several of them (inherited across fork, a listener every worker
     * accepts on, a pipe between parent and child) is saved once, by the first, and the others refer to its id. A
     * failure part-way ends the repair mode it had begun before the exception leaves, so the caller only has the
     * sockets of a successful dump to care about.
     */
    public static List<Result> dumpTree(List<Integer> pids) {
        Map<Integer, Map<Integer, OpenFile>> filesOf = new LinkedHashMap<>();
        List<Integer> pidfds = new ArrayList<>();
        List<DumpContext> contexts = new ArrayList<>();
        boolean done = false;
        try {
            for (int pid : pids) {
                ProcFs proc = new ProcFs(pid);
                int pidfd = Linux.pidfdOpen(pid);
                pidfds.add(pidfd);
                Map<Integer, OpenFile> files = new LinkedHashMap<>();
                filesOf.put(pid, files);
                for (int fd : proc.fds()) {
                    files.put(fd, new OpenFile(proc, pidfd, fd));
                }
            }
            List<OpenFile> all = filesOf.values().stream().flatMap(m -> m.values().stream()).toList();
            UnixSockets unix = all.stream().anyMatch(f -> f.link().startsWith("socket:")) ? UnixSockets.dump() : null;
            // descriptors sharing an open file show the same link: compare only within a link; {pid, fd, id} each
            Map<String, List<int[]>> savedByLink = new java.util.HashMap<>();
            int nextId = 0;
            List<Result> results = new ArrayList<>();
            for (Map.Entry<Integer, Map<Integer, OpenFile>> member : filesOf.entrySet()) {
                int pid = member.getKey();
                DumpContext context = new DumpContext(pid, member.getValue(), all, unix);
                contexts.add(context);
                List<FdImage> fds = new ArrayList<>();
                List<FileState> states = new ArrayList<>();
                for (OpenFile f : member.getValue().values()) {
                    List<int[]> sameLink = savedByLink.computeIfAbsent(f.link(), k -> new ArrayList<>());
                    int id = sharedWith(pid, f.fd(), sameLink);
                    int savedAs = id;
                    List<FileLocks.Lock> posixLocks = null;
                    if (id >= 0 && sameLink.stream().anyMatch(saved -> saved[2] == savedAs && saved[0] != pid)
                            && new RegularFiles().matches(f)) {
                        // saved with another process: its state has that one's POSIX locks, this process's go with the fd
                        posixLocks = FileLocks.of(f).stream().filter(l -> l.kind().equals("POSIX")).toList();
                        posixLocks = posixLocks.isEmpty() ? null : posixLocks;
                    }
                    if (id < 0) {
                        FileKind<?> kind = kindOf(f);
                        if (kind == null) {
                            throw new RefusedException(f.describe() + ": " + FileKinds.describeUnsupported(f) + " is not supported yet");
                        }
                        id = nextId++;
                        states.add(kind.dump(f, id, context));
                        sameLink.add(new int[] {pid, f.fd(), id});
                    }
                    fds.add(new FdImage(f.fd(), f.closeOnExec(), id, ownerOfNew(f), posixLocks));
                }
                results.add(new Result(fds, states, List.copyOf(context.inRepair())));
            }
            done = true;
            return results;
        } finally {
            if (!done) {
                for (DumpContext context : contexts) {
                    for (DumpContext.SocketInRepair s : context.inRepair()) {
                        TcpSockets.leaveRepair(context.files().get(s.fd()).local(), s.reuseAddress());
                    }
                }
            }
            filesOf.values().forEach(files -> files.values().forEach(OpenFile::close));
            pidfds.forEach(Linux::close);
        }
    }

    /** {uid, gid} of a pipe's or socket's inode, which a restore creates anew; null for other files. */
    private static int[] ownerOfNew(OpenFile f) {
        if (!f.link().startsWith("pipe:[") && !f.link().startsWith("socket:[")) {
            return null;
        }
        try {
            java.nio.file.Path p = java.nio.file.Path.of("/proc", Integer.toString(f.pid()), "fd", Integer.toString(f.fd()));
            return new int[] {(Integer) java.nio.file.Files.getAttribute(p, "unix:uid"), (Integer) java.nio.file.Files.getAttribute(p, "unix:gid")};
        } catch (java.io.IOException e) {
            throw new io.pmig.checkpoint.FailedException(f.describe() + ": cannot read its owner: " + e.getMessage(), e);
        }
    }

    /** Whether descriptor {@code fd} of a running process was closed while it was looked at (a busy server's churn). */
    private static boolean closedMeanwhile(ProcFs proc, int fd) {
        return !Files.exists(proc.path("fd/" + fd), LinkOption.NOFOLLOW_LINKS);
    }

    /** Ends TCP repair mode on the process's sockets that a dump left in it, before the process runs on. */
    public static void leaveRepair(int pid, List<DumpContext.SocketInRepair> sockets) {
        if (sockets.isEmpty()) {
            return;
        }
        int pidfd = Linux.pidfdOpen(pid);
        try {
            for (DumpContext.SocketInRepair s : sockets) {
                int local = Linux.pidfdGetfd(pidfd, s.fd());
                try {
                    TcpSockets.leaveRepair(local, s.reuseAddress());
                } finally {
                    Linux.close(local);
                }
            }
        } finally {
            Linux.close(pidfd);
        }
    }

    /** Takes {@code fd} of the process behind {@code pidfd} out of repair mode, through a copy of it. */
    private static void repairOff(int pidfd, int fd) {
        int local = Linux.pidfdGetfd(pidfd, fd);
        try {
            Sockets.setInt(local, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 0);
        } finally {
            Linux.close(local);
        }
    }

    /** The id of an already-saved open file ({pid, fd, id}) that {@code fd} of {@code pid} shares (dup'ed, inherited), or -1. */
    private static int sharedWith(int pid, int fd, List<int[]> saved) {
        for (int[] s : saved) {
            if (s[0] == pid ? Linux.sameFile(pid, fd, s[1]) : Linux.shareFile(pid, fd, s[0], s[1])) {
                return s[2];
            }
        }
        return -1;
    }

    /**
     * Every TCP connection of process {@code pid} leaves repair mode (one not in it just sends a
     * window probe; a listener cannot be in it and is passed over); returns how many.
     */
    public static int leaveRepairAll(int pid) {
        ProcFs proc = new ProcFs(pid);
        int count = 0;
        int pidfd = Linux.pidfdOpen(pid);
        try {
            for (int fd : proc.fds()) {
                try (OpenFile f = new OpenFile(proc, pidfd, fd)) {
                    if (!(kindOf(f) instanceof TcpSockets)) {
                        continue;
                    }
                }
                try {
                    repairOff(pidfd, fd);
                    count++;
                } catch (SyscallException e) {
                    if (e.errno() != Errno.EPERM) {         // EPERM: not a connection (a listener)
                        throw e;
                    }
                }
            }
        } finally {
            Linux.close(pidfd);
        }
        return count;
    }

    private static FileKind<?> kindOf(OpenFile f) {
        for (FileKind<?> kind : FileKinds.ALL) {
            if (kind.matches(f)) {
                return kind;
            }
        }
        return null;
    }
}
