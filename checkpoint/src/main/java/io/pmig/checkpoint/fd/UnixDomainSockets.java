package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.UnsettledException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.nativeio.Errno;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.nativeio.Sockets;
import io.pmig.nativeio.SyscallException;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Unix domain sockets of every type (stream, datagram, seqpacket) and state: listening, connected
 * to a peer in the same process, unconnected; named by a filesystem path or an abstract name
 * ("@name"), or unnamed. What the kernel knows of them comes from sock_diag (linux/unix_diag.h):
 * names, peers, a listener's backlog and pending connections, the shutdown state.
 *
 * <p>Saved: the type, the name the socket bound (with its socket file's mode and owner), a
 * listener's backlog, how the socket is connected, the data queued to it (what the process would
 * read next: stream bytes, or one entry per datagram or seqpacket record so that boundaries are
 * kept), the sender address of each datagram queued to an unconnected socket, O_NONBLOCK,
 * SO_PASSCRED with the credentials of queued messages when it is on, SO_PEEK_OFF, the buffer sizes
 * and the shutdown(2) state. Queues are read with MSG_PEEK at a moving SO_PEEK_OFF, which leaves
 * them in place for a process that goes on running.
 *
 * <p>Restore: a named socket binds its name again. A socket file left by a socket that is gone
 * (connect(2) gets ECONNREFUSED) is replaced; a path or abstract name where a live socket is bound
 * is refused, naming it, before the socket is made ({@link #precheck} does the same test without
 * touching anything, for a check before the restore begins). A connection made by socketpair(2),
 * or whose ends bound their names themselves, is made by socketpair(2) again and each end binds
 * its own name (a connected socket may still bind). A connection accepted from a listener of the
 * process is made again by connecting to the restored listener and accepting, so that the
 * accepted end shares the listener's name as before: getsockname(2) of the accepted end and
 * getpeername(2) of the client give the listener's name, and the name is held by the listener
 * alone. When that listener is gone, a listener bound to the name for the moment does the same if
 * no live socket holds the name (a stale socket file at the path is replaced by the moment's
 * listener's, stale in turn; a path that did not exist is removed again); otherwise the accepted
 * end comes back unnamed (getsockname gives an unnamed address, and the client's getpeername too),
 * the one case where a name is not as it was. Queued data is sent again from the other end; a
 * datagram queued to an unconnected socket is sent from the socket of the image that holds its
 * sender's name, or from an unnamed socket, or, when its sender is not in the image, from a socket
 * bound to that name for the moment (refused when a socket holds the name, or a file is at the
 * path). A datagram socket connected one way is connected again by name once its queue is refilled.
 *
 * <p>Refused at checkpoint: a peer held by another process (the message names the peer's name,
 * inode and holders: checkpoint them together), a listener with connections not yet accepted (they
 * cannot be put back in its queue: an {@link UnsettledException}, so that the server is let run a
 * moment to take them first), descriptors in flight in a queue (SCM_RIGHTS), a name relative to
 * a directory that is no process's working directory any more (one that still is, is bound again as it was, from
 * there), a name that is not UTF-8, a socket outside pmig's network namespace,
 * datagrams queued to an unnamed socket that is not connected, and datagram connections that
 * cannot be made again in any order (to a socket that is connected elsewhere).
 *
 * <p>Which end of a stream or seqpacket connection was accepted is not in sock_diag (an accepted
 * socket shares its listener's name and socket file): a named end is taken as accepted when a
 * listener of the process of its type holds the name (the same file, for a path), or when the
 * other end is unnamed (a client that binds a name connects to a listener, whose accepted end is
 * named too). Where that guess is wrong the names still come back as they were: a socketpair end
 * that bound a name, with an unnamed peer, comes back without holding the name; an accepted socket
 * whose listener has closed, with a named client, comes back holding it.
 *
 * <p>Limits: SO_PEERCRED of a restored connection or listener names pmig, which made it; the
 * credentials of queued messages are kept only when the receiving socket has SO_PASSCRED (and the
 * sender's pid must exist at restore: the process's own does; else pmig's pid stands in). Another
 * process that connects to a restored listener in the instant before the restore has accepted the
 * process's own connections from it has its connection closed (it reads EOF) if it came ahead of
 * them. The survivor of a closed datagram peer loses the sender address of what that peer had
 * sent. Not carried: MSG_OOB marks, SO_PASSSEC, SO_PASSPIDFD, an empty datagram that was already
 * peeked at and is not at the head of the queue (net/core/datagram.c skips it).
 */
public final class UnixDomainSockets implements FileKind<UnixDomainSockets.State> {
    /** {@link Link#how()}: socketpair(2), then each end binds its own name. */
    public static final String PAIR = "socketpair";
    /** {@link Link#how()}: the first end connects to the listener of the image, the second is what it accepts. */
    public static final String ACCEPT = "accept";
    /** {@link Link#how()}: as {@link #ACCEPT}, through a listener bound to the second end's name for the moment. */
    public static final String ACCEPT_AT_NAME = "accept-at-name";
    private static final int SHOW = Sockets.UDIAG_SHOW_NAME | Sockets.UDIAG_SHOW_VFS | Sockets.UDIAG_SHOW_PEER
        | Sockets.UDIAG_SHOW_ICONS | Sockets.UDIAG_SHOW_RQLEN;
    private static final int STREAM_CHUNK = 1 << 20;
    /** How {@link #nameOf} writes a name bound relative to a directory: the directory, this, the name as bound. */
    private static final String RELATIVE = "/./";
    /** sizeof sun_path (linux/un.h). */
    private static final int SUN_PATH_BYTES = 108;
    private static final int FIRST_BUFFER = 1 << 16;
    private static final int ACCEPT_ATTEMPTS = 64;
    private static final int SEND_BUFFER_RAISES = 12;
    private static final int MAX_PEEKS = 1 << 20;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final Map<Integer, int[]> DEFAULT_BUFFERS = new ConcurrentHashMap<>();

    /** What one dump has learnt of the host's Unix sockets, kept while that dump runs. */
    private final Map<DumpContext, Survey> surveys = Collections.synchronizedMap(new WeakHashMap<>());

    /**
     * How one socket comes into being. {@code name} is the name it bound itself (null when it has
     * none of its own: unnamed, or the name an accepted socket shares with its listener). Without a
     * {@code link}: socket(2), bind(2) to the name, and listen(2) when {@code backlog} is 0 or more.
     * With one: made together with the other end of its connection.
     */
    public record Origin(long inode, int type, String name, int backlog, Link link) {
    }

    /**
     * A connection made with both its ends ({@code how}: {@link #PAIR}, {@link #ACCEPT} through
     * {@code listener}, {@link #ACCEPT_AT_NAME}). For the accepting ways {@code first} is the client
     * and {@code secondName} the name the accepted end shares with its listener; else the names
     * are what each end bound. An end whose inode is 0 had been closed: it is made and closed again.
     */
    public record Link(String how, long first, String firstName, long second, String secondName, Origin listener) {
    }

    public record Credentials(int pid, int uid, int gid) {
    }

    /**
     * A message waiting to be read: a datagram or seqpacket record, or a run of stream bytes. On an
     * unconnected datagram socket {@code sender} is the address it came from (null: an unnamed
     * socket) and {@code from} the socket of the image holding that name, if one does.
     * {@code credentials}: the sender's, when the socket has SO_PASSCRED.
     */
    public record Message(byte[] data, String sender, Origin from, Credentials credentials) {
    }

    /** Permission bits and owner of the socket file of a socket bound to a path. */
    public record SocketFile(int mode, int uid, int gid) {
    }

    /**
     * {@code connectedTo}: the peer of a datagram socket connected one way (its queue is refilled
     * before it connects); {@code shutdown}: sk_shutdown bits; {@code queued}: in reading order.
     */
    @ImageKind("file.unix")
    public record State(int id, Origin origin, Origin connectedTo, int flags, int shutdown, boolean passCredentials,
                        boolean passSecurity, int peekOffset, int sendBuffer, int receiveBuffer, SocketFile file, List<Message> queued)
        implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().startsWith("socket:[") && Linux.getsockoptInt(file.local(), Linux.SOL_SOCKET, Linux.SO_DOMAIN) == Linux.AF_UNIX;
    }

    // ---------------------------------------------------------------- checkpoint

    /** The process's sockets and the sock_diag answers of one dump. */
    private static final class Survey {
        /** The host's Unix sockets (the dump's, from one sock_diag dump); not the context itself, the key of this survey. */
        private final UnixSockets host;
        private final Map<Long, Sockets.UnixDiag> diags = new HashMap<>();
        /** Socket inode to a descriptor of the process holding it. */
        private final Map<Long, OpenFile> mine = new HashMap<>();

        /** The processes checkpointed together, whose working directories a name bound relative to one is looked for in. */
        private final Set<Integer> pids = new java.util.TreeSet<>();

        Survey(DumpContext context) {
            this.host = context.unixSockets();
            for (OpenFile f : context.treeFiles()) {
                pids.add(f.pid());
                if (f.link().startsWith("socket:[")) {
                    mine.putIfAbsent(f.linkInode(), f);
                }
            }
        }

        /**
         * {@code relative} (a socket's name as bound) written as its directory, {@link #RELATIVE}, and itself: the
         * directory is the working directory of a process checkpointed together where the name leads to the socket's
         * file ({@code fileInode}); null if none does (the binder changed directory since, or the file was moved).
         */
        String resolveRelative(String relative, long fileInode) {
            for (int pid : pids) {
                try {
                    String cwd = Files.readSymbolicLink(Path.of("/proc", Integer.toString(pid), "cwd")).toString();
                    Object ino = Files.getAttribute(Path.of(cwd, relative), "unix:ino", LinkOption.NOFOLLOW_LINKS);
                    if (((Number) ino).longValue() == fileInode) {
                        return (cwd.equals("/") ? "" : cwd) + RELATIVE + relative;
                    }
                } catch (IOException | RuntimeException notThere) {
                    // not under this process's working directory
                }
            }
            return null;
        }

        Sockets.UnixDiag diag(long inode) {
            Sockets.UnixDiag d = diags.get(inode);
            if (d == null) {
                d = Sockets.unixDiag(inode, SHOW);
                if (d != null) {
                    diags.put(inode, d);
                }
            }
            return d;
        }

        boolean inProcess(long inode) {
            return mine.containsKey(inode);
        }

        String describe(long inode) {
            OpenFile f = mine.get(inode);
            return f != null ? f.describe() : "Unix socket inode " + inode;
        }
    }

    private Survey survey(DumpContext context) {
        synchronized (surveys) {
            return surveys.computeIfAbsent(context, Survey::new);
        }
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        Survey survey = survey(context);
        long inode = file.linkInode();
        Sockets.UnixDiag me = survey.diag(inode);
        if (me == null) {
            throw new RefusedException(file.describe() + ": this Unix socket is not in the socket table of pmig's network "
                + "namespace (the process has a network namespace of its own?), which is not supported yet");
        }
        String what = file.describe() + ": Unix " + typeName(me.type()) + " socket " + display(nameOf(me, survey, file.describe()));
        int inFlight = scmFds(file);
        if (inFlight > 0) {
            throw new RefusedException(what + " has " + inFlight + " descriptor(s) in flight in its queue (SCM_RIGHTS), which "
                + "cannot be carried yet; retry once the process has received them");
        }
        boolean filtered;
        try {
            filtered = Sockets.socketFilter(file.local()).length > 0;
        } catch (io.pmig.nativeio.SyscallException e) {
            filtered = true;        // EACCES: an eBPF one
        }
        if (filtered) {
            throw new RefusedException(what + " has a socket filter (SO_ATTACH_FILTER or SO_ATTACH_BPF), which is carried for "
                + "IPv4 and IPv6 sockets only yet");
        }
        Origin origin = originOf(inode, survey);
        Origin connectedTo = null;
        if (me.type() == Linux.SOCK_DGRAM && connected(me) && origin.link() == null) {
            connectedTo = datagramTarget(me, survey, what);
        }
        int fd = file.local();
        boolean passCredentials = Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_PASSCRED) != 0;
        int peekOffset = Sockets.getInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF);
        List<Message> queued = peekQueue(fd, me, peekOffset, what);
        if (me.type() == Linux.SOCK_DGRAM && origin.link() == null && !queued.isEmpty()) {
            if (origin.name() == null) {
                throw new RefusedException(what + " is unnamed and unconnected but holds " + queued.size()
                    + " datagram(s), which cannot be queued to it again; retry once the process has read them");
            }
            queued = withSenders(queued, survey);
        }
        return new State(id, origin, connectedTo, file.statusFlags(), me.shutdown() & (Sockets.RCV_SHUTDOWN | Sockets.SEND_SHUTDOWN),
            passCredentials, Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_PASSSEC) != 0, peekOffset, Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_SNDBUF),
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUF), socketFile(origin.name(), me), queued);
    }

    /** How the socket with {@code inode} (one of the process's) is made again. */
    private Origin originOf(long inode, Survey survey) {
        Sockets.UnixDiag d = survey.diag(inode);
        if (d == null) {
            throw new RefusedException(survey.describe(inode) + " is not in the Unix socket table of pmig's network namespace");
        }
        String own = ownName(d, survey);
        if (d.state() == Sockets.UNIX_LISTEN) {
            long[] queues = d.queues();
            if (queues[0] > 0) {
                // they cannot be put back in a listener's queue; let run a moment, the server may take them
                throw new UnsettledException(survey.describe(inode) + ": listening Unix " + typeName(d.type()) + " socket "
                    + display(nameOf(d, survey, survey.describe(inode))) + " has " + queues[0] + " connection(s) the server has not accepted"
                    + clientsOf(d.pendingClients()) + ", which cannot be put back in its queue");
            }
            return new Origin(inode, d.type(), own, (int) queues[1], null);
        }
        if (!connected(d)) {
            return new Origin(inode, d.type(), own, -1, null);
        }
        long peer = d.peer();
        if (peer != 0 && !survey.inProcess(peer)) {
            throw outsidePeer(inode, d, peer, survey);
        }
        Sockets.UnixDiag p = peer == 0 ? null : survey.diag(peer);
        if (peer != 0 && p == null) {
            throw new RefusedException(survey.describe(inode) + ": its peer (Unix socket inode " + peer
                + ") is not in the socket table of pmig's network namespace");
        }
        String peerOwn = p == null ? null : ownName(p, survey);
        if (d.type() == Linux.SOCK_DGRAM) {
            boolean mutual = p != null && p.peer() == inode;
            if (p == null || mutual && (own == null || peerOwn == null)) {
                return new Origin(inode, d.type(), own, -1, pairLink(inode, own, peer, peerOwn));
            }
            // connected by name (one way, or both ways with both named): connect(2) again after the queues
            return new Origin(inode, d.type(), own, -1, null);
        }
        String shared = own == null ? nameOf(d, survey, survey.describe(inode)) : null;
        String peerShared = p != null && peerOwn == null ? nameOf(p, survey, survey.describe(peer)) : null;
        Link link;
        if (shared != null) {
            link = acceptLink(peer, peerOwn, inode, shared, d, survey);
        } else if (peerShared != null) {
            link = acceptLink(inode, own, peer, peerShared, p, survey);
        } else {
            link = pairLink(inode, own, peer, peerOwn);
        }
        return new Origin(inode, d.type(), own, -1, link);
    }

    /**
     * Whether the socket has a peer, alive (its inode) or closed (inode 0). A datagram socket that
     * others connected to is ESTABLISHED too, but has no UNIX_DIAG_PEER at all.
     */
    private static boolean connected(Sockets.UnixDiag d) {
        return d.state() == Sockets.UNIX_ESTABLISHED && d.attributes().containsKey(Sockets.UNIX_DIAG_PEER);
    }

    /** The same link from either end: the lower inode first (a closed end, inode 0, last). */
    private static Link pairLink(long inode, String name, long peer, String peerName) {
        if (peer == 0 || inode < peer) {
            return new Link(PAIR, inode, name, peer, peerName, null);
        }
        return new Link(PAIR, peer, peerName, inode, name, null);
    }

    private Link acceptLink(long client, String clientName, long accepted, String name, Sockets.UnixDiag acceptedDiag, Survey survey) {
        long listener = listenerOf(name, acceptedDiag, survey);
        if (listener != 0) {
            return new Link(ACCEPT, client, clientName, accepted, name, originOf(listener, survey));
        }
        return new Link(ACCEPT_AT_NAME, client, clientName, accepted, name, null);
    }

    /**
     * The name the socket bound itself, or null. An accepted socket shares its listener's name (and
     * socket file), which sock_diag does not tell from a name of its own; a connected stream or
     * seqpacket socket is taken as accepted when a listener of the process of the same type holds
     * its name (the same file, for a path), or, with no such listener, when its peer is unnamed: a
     * client that binds a name connects to a listener, whose accepted end has a name too, so the
     * named end of a connection with an unnamed one is the accepted end of a listener since closed
     * (or a socket pair end that bound a name, which restores the same apart from holding the name).
     */
    private String ownName(Sockets.UnixDiag d, Survey survey) {
        String name = nameOf(d, survey, survey.describe(d.inode()));
        if (name == null || d.type() == Linux.SOCK_DGRAM || !connected(d)) {
            return name;
        }
        if (listenerOf(name, d, survey) != 0) {
            return null;
        }
        Sockets.UnixDiag peer = d.peer() == 0 || !survey.inProcess(d.peer()) ? null : survey.diag(d.peer());
        return peer != null && peer.name() == null ? null : name;
    }

    /** The inode of the process's listener of {@code d}'s type named {@code name} (bound to {@code d}'s socket file, if any), or 0. */
    private long listenerOf(String name, Sockets.UnixDiag d, Survey survey) {
        for (long inode : survey.mine.keySet()) {
            UnixSockets.Info info = survey.host == null ? null : survey.host.get(inode);
            if (inode == d.inode() || info == null || info.state() != Sockets.UNIX_LISTEN || info.type() != d.type()) {
                continue;
            }
            Sockets.UnixDiag l = survey.diag(inode);
            if (l != null && name.equals(nameOf(l, survey, survey.describe(inode))) && (d.fileInode() == 0 || l.fileInode() == d.fileInode())) {
                return inode;
            }
        }
        return 0;
    }

    /** The peer of a datagram socket connected one way, which must be named and not connected elsewhere. */
    private Origin datagramTarget(Sockets.UnixDiag me, Survey survey, String what) {
        Sockets.UnixDiag p = survey.diag(me.peer());
        String name = ownName(p, survey);
        if (name == null) {
            throw new RefusedException(what + " is connected to an unnamed datagram socket (inode " + p.inode()
                + ") that is connected to another one, which cannot be made again");
        }
        if (p.peer() != 0 && p.peer() != me.inode()) {
            throw new RefusedException(what + " is connected to " + display(name) + " (inode " + p.inode()
                + "), which is connected to another socket (inode " + p.peer() + "): the connections cannot be made again in that order");
        }
        return originOf(p.inode(), survey);
    }

    private RefusedException outsidePeer(long inode, Sockets.UnixDiag d, long peer, Survey survey) {
        String peerName = null;
        Sockets.UnixDiag p = survey.diag(peer);
        if (p != null && p.name() != null) {
            peerName = decode(Sockets.unixPath(Sockets.unixAddress(p.name())));
        } else if (p == null && survey.host != null && survey.host.get(peer) != null) {
            peerName = survey.host.get(peer).name();
        }
        List<Integer> holders = holdersOf(peer);
        String held = holders.isEmpty() ? "held by no process that pmig can see (in flight in a queue, or in another PID namespace)"
            : "held by process" + (holders.size() > 1 ? "es " : " ") + joined(holders);
        String own = d.name() == null ? "" : display(decode(Sockets.unixPath(Sockets.unixAddress(d.name())))) + " ";
        return new RefusedException(survey.describe(inode) + ": Unix " + typeName(d.type()) + " socket " + own + "connected to "
            + (peerName != null ? display(peerName) : "an unnamed socket") + " (inode " + peer + ") " + held
            + "; checkpoint them together");
    }

    /** ", from process 77" for the clients of pending connections, when their holders can be found. */
    private static String clientsOf(long[] clients) {
        List<Integer> pids = new ArrayList<>();
        for (long c : clients) {
            for (int pid : holdersOf(c)) {
                if (!pids.contains(pid)) {
                    pids.add(pid);
                }
            }
        }
        return pids.isEmpty() ? "" : " (from process" + (pids.size() > 1 ? "es " : " ") + joined(pids) + ")";
    }

    private static String joined(List<Integer> pids) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < pids.size(); i++) {
            b.append(i == 0 ? "" : ", ").append(pids.get(i));
        }
        return b.toString();
    }

    /** The processes with a descriptor for socket {@code inode}, from /proc/PID/fd. */
    private static List<Integer> holdersOf(long inode) {
        String link = "socket:[" + inode + "]";
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path proc : procs) {
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                    for (Path fd : fds) {
                        try {
                            if (Files.readSymbolicLink(fd).toString().equals(link)) {
                                out.add(Integer.parseInt(proc.getFileName().toString()));
                                break;
                            }
                        } catch (IOException gone) {
                            // closed meanwhile
                        }
                    }
                } catch (IOException gone) {
                    // exited, or not ours to read
                }
            }
        } catch (IOException e) {
            return out;
        }
        Collections.sort(out);
        return out;
    }

    /** The name sock_diag reports, as the engine writes it ("@" before an abstract name); refuses names it cannot carry. */
    private static String nameOf(Sockets.UnixDiag d, Survey survey, String what) {
        byte[] raw = d.name();
        if (raw == null) {
            return null;
        }
        byte[] path = Sockets.unixPath(Sockets.unixAddress(raw));
        String name = decode(path);
        if (!Arrays.equals(sunPath(name), path)) {
            throw new RefusedException(what + ": Unix socket name " + display(name) + " is not UTF-8, which is not supported");
        }
        if (path[0] != 0 && path[0] != '/') {
            String resolved = survey.resolveRelative(name, d.fileInode());
            if (resolved == null) {
                throw new RefusedException(what + ": Unix socket bound to the relative path " + name + ", which leads to its "
                    + "socket file from the working directory of no process being checkpointed (it changed directory "
                    + "since the bind, or the file was moved); the directory to bind it in again is unknown");
            }
            if (sunPath(resolved).length >= SUN_PATH_BYTES) {
                throw new RefusedException(what + ": Unix socket bound to the relative path " + name + " in " + resolved
                    + ", a path longer than a socket address holds (" + (SUN_PATH_BYTES - 1) + " bytes), which is not supported");
            }
            return resolved;
        }
        return name;
    }

    /**
     * Binds {@code fd} to {@code name}, returning 0 or the errno. A name bound relative to a directory (written
     * "DIR/./NAME" by {@link #nameOf}) is bound as NAME from a thread of its own whose working directory is DIR, so
     * that the socket's name reads as its original's; every other use of it (connect, the file) takes the whole path.
     */
    private static int tryBindName(int fd, String name) {
        int at = name.startsWith("/") ? name.indexOf(RELATIVE) : -1;
        if (at < 0) {
            return Sockets.tryBind(fd, address(name));
        }
        String directory = at == 0 ? "/" : name.substring(0, at);
        String relative = name.substring(at + RELATIVE.length());
        int[] result = {0};
        RuntimeException[] failure = {null};
        Thread binder = new Thread(() -> {
            try {
                Linux.chdirThisThread(directory);
                result[0] = Sockets.tryBind(fd, address(relative));
            } catch (RuntimeException e) {
                failure[0] = e;
            }
        }, "pmig-unix-bind");
        binder.start();
        try {
            binder.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FailedException("interrupted binding " + display(name), e);
        }
        if (failure[0] != null) {
            throw failure[0];
        }
        return result[0];
    }

    private static void bindName(int fd, String name) {
        int err = tryBindName(fd, name);
        if (err != 0) {
            throw new SyscallException("bind(" + display(name) + ")", err);
        }
    }

    private static String decode(byte[] sunPath) {
        if (sunPath.length > 0 && sunPath[0] == 0) {
            return "@" + new String(sunPath, 1, sunPath.length - 1, StandardCharsets.UTF_8);
        }
        return new String(sunPath, StandardCharsets.UTF_8);
    }

    private static byte[] sunPath(String name) {
        if (name.startsWith("@")) {
            byte[] b = name.substring(1).getBytes(StandardCharsets.UTF_8);
            byte[] out = new byte[b.length + 1];
            System.arraycopy(b, 0, out, 1, b.length);
            return out;
        }
        return name.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] address(String name) {
        return Sockets.unixAddress(sunPath(name));
    }

    /** A name for messages: NUL bytes in an abstract name shown as \0, trailing ones counted. */
    static String display(String name) {
        if (name == null) {
            return "(unnamed)";
        }
        int end = name.length();
        while (end > 1 && name.charAt(end - 1) == '\0') {
            end--;
        }
        String shown = name.substring(0, end).replace("\0", "\\0");
        return end < name.length() ? shown + " (+" + (name.length() - end) + " NUL bytes)" : shown;
    }

    private static String typeName(int type) {
        return switch (type) {
            case Linux.SOCK_STREAM -> "stream";
            case Linux.SOCK_DGRAM -> "datagram";
            case Linux.SOCK_SEQPACKET -> "seqpacket";
            default -> "type-" + type;
        };
    }

    private static int scmFds(OpenFile file) {
        for (String line : file.fdinfoText().split("\n")) {
            if (line.startsWith("scm_fds:")) {
                return Integer.parseInt(line.substring("scm_fds:".length()).trim());
            }
        }
        return 0;
    }

    /** Mode and owner of the socket file of a socket bound to a path, when the file at the path is still its own. */
    private static SocketFile socketFile(String name, Sockets.UnixDiag d) {
        if (name == null || name.startsWith("@") || d.fileInode() == 0) {
            return null;
        }
        Path p = Path.of(name);
        try {
            Map<String, Object> a = Files.readAttributes(p, "unix:ino,mode,uid,gid", LinkOption.NOFOLLOW_LINKS);
            if (((Number) a.get("ino")).longValue() != d.fileInode()) {
                return null;
            }
            return new SocketFile((Integer) a.get("mode") & 07777, (Integer) a.get("uid"), (Integer) a.get("gid"));
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Every queued message, copied without taking any; the socket's peek offset is put back. A
     * peek at an offset skips an empty datagram that was peeked at before; a plain peek sees the
     * head whatever it is, and marks an empty one peeked, so the walk after it skips it.
     */
    private static List<Message> peekQueue(int fd, Sockets.UnixDiag me, int peekOffset, String what) {
        List<Message> out = new ArrayList<>();
        if (me.type() != Linux.SOCK_DGRAM && me.state() != Sockets.UNIX_ESTABLISHED) {
            return out; // a listener, or not connected: nothing can be queued (and recvmsg refuses)
        }
        boolean stream = me.type() == Linux.SOCK_STREAM;
        boolean readShut = (me.shutdown() & Sockets.RCV_SHUTDOWN) != 0;
        NativeMemory buf = NativeMemory.allocate(stream ? STREAM_CHUNK : FIRST_BUFFER);
        int flags = Linux.MSG_PEEK | Linux.MSG_DONTWAIT | (stream ? 0 : Sockets.MSG_TRUNC);
        try {
            if (me.type() == Linux.SOCK_DGRAM) {
                if (peekOffset >= 0) {
                    Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, -1);
                }
                Sockets.UnixMessage head = Sockets.recvUnix(fd, buf, flags);
                if (head != null && head.length() == 0) {
                    out.add(message(head, what));
                }
            }
            Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, 0);
            long offset = 0;
            for (int i = 0; i < MAX_PEEKS; i++) {
                Sockets.UnixMessage m = Sockets.recvUnix(fd, buf, flags);
                if (m == null) {
                    return out;
                }
                if (stream) {
                    if (m.length() == 0) {
                        return out; // end of stream: the peer shut down or closed
                    }
                    Message chunk = message(m, what);
                    Message last = out.isEmpty() ? null : out.get(out.size() - 1);
                    if (last != null && Objects.equals(last.credentials(), chunk.credentials())) {
                        out.set(out.size() - 1, new Message(concat(last.data(), chunk.data()), null, null, chunk.credentials()));
                    } else {
                        out.add(chunk);
                    }
                    continue;
                }
                if (m.length() > buf.size()) {
                    // bigger than the buffer: read it again whole from where it starts
                    buf = NativeMemory.allocate(m.length());
                    Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, (int) offset);
                    continue;
                }
                if (m.length() == 0 && me.type() == Linux.SOCK_SEQPACKET && readShut) {
                    return out; // end of a shut-down seqpacket connection
                }
                out.add(message(m, what));
                offset += m.length();
            }
            throw new FailedException(what + ": its queue did not end after " + MAX_PEEKS + " messages");
        } finally {
            Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, peekOffset);
        }
    }

    private static Message message(Sockets.UnixMessage m, String what) {
        if (m.descriptors() > 0) {
            throw new RefusedException(what + " has descriptors in flight in its queue (SCM_RIGHTS), which cannot be carried yet; "
                + "retry once the process has received them");
        }
        byte[] source = Sockets.unixPath(m.source());
        Sockets.Credentials c = m.credentials();
        return new Message(m.data(), source.length == 0 ? null : decode(source), null,
            c == null ? null : new Credentials(c.pid(), c.uid(), c.gid()));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** The queued datagrams with the socket of the process, if any, that holds each one's sender name. */
    private List<Message> withSenders(List<Message> queued, Survey survey) {
        Map<String, Origin> owners = new HashMap<>();
        for (long inode : survey.mine.keySet()) {
            Sockets.UnixDiag d = survey.diag(inode);
            if (d != null && d.type() == Linux.SOCK_DGRAM && d.name() != null) {
                String name = nameOf(d, survey, survey.describe(inode));
                if (queued.stream().anyMatch(m -> name.equals(m.sender()))) {
                    owners.putIfAbsent(name, originOf(inode, survey));
                }
            }
        }
        List<Message> out = new ArrayList<>();
        for (Message m : queued) {
            out.add(new Message(m.data(), m.sender(), m.sender() == null ? null : owners.get(m.sender()), m.credentials()));
        }
        return out;
    }

    // ---------------------------------------------------------------- restore

    /**
     * Refuses, naming it, if a name this socket's restore binds is held by a live socket on this
     * host now. Touches nothing: a stale socket file is replaced only when the socket is made.
     */
    @Override
    public void checkRestorable(State state) {
        precheck(state);
    }

    private static void precheck(State s) {
        String what = "Unix " + typeName(s.origin().type()) + " socket " + display(s.origin().name());
        if (s.origin().name() != null) {
            requireUsable(s.origin().name(), false);
        }
        if (s.origin().link() == null) {
            for (Message m : s.queued()) {
                if (m.from() == null && m.sender() != null) {
                    requireFreeForSender(m.sender(), what);
                }
            }
        }
    }

    @Override
    public int open(State s, RestoreContext context) {
        String what = "Unix " + typeName(s.origin().type()) + " socket " + display(s.origin().name());
        try {
            int fd = socketOf(s.origin(), context);
            requeue(fd, s, context, what);
            if (s.connectedTo() != null) {
                socketOf(s.connectedTo(), context);
                Sockets.connect(fd, address(s.connectedTo().name()));
            }
            if (s.file() != null) {
                applyFile(s.origin().name(), s.file());
            }
            applyBuffers(fd, s);
            if (s.peekOffset() >= 0) {
                Sockets.setInt(fd, Linux.SOL_SOCKET, Linux.SO_PEEK_OFF, s.peekOffset());
            }
            Linux.fcntl(fd, Linux.F_SETFL, s.flags() & Linux.O_NONBLOCK);
            return fd;
        } catch (RefusedException | FailedException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new FailedException("restoring " + what + ": " + e.getMessage(), e);
        }
    }

    /** After every descriptor is in place (so that no send or connect of the restore meets them): shutdown(2), SO_PASSCRED, SO_PASSSEC. */
    @Override
    public void afterInstall(State s, Map<Integer, Integer> fdsOfFile, RestoreProgram program) {
        Integer fd = fdsOfFile.get(s.id());
        if (fd == null) {
            return;
        }
        if (s.shutdown() != 0) {
            // RCV_SHUTDOWN alone is SHUT_RD (0), SEND_SHUTDOWN SHUT_WR (1), both SHUT_RDWR (2)
            program.call("shutdown(" + fd + ")", Nr.SHUTDOWN, fd, s.shutdown() - 1);
        }
        if (s.passSecurity()) {
            program.call("setsockopt(" + fd + ", SO_PASSSEC)", Nr.SETSOCKOPT, fd, Linux.SOL_SOCKET, Sockets.SO_PASSSEC,
                program.data(new byte[] {1, 0, 0, 0}), 4);
        }
        if (s.passCredentials()) {
            // set last: a socket with SO_PASSCRED that sends or connects unnamed is given a name (autobind)
            program.call("setsockopt(" + fd + ", SO_PASSCRED)", Nr.SETSOCKOPT, fd, Linux.SOL_SOCKET, Sockets.SO_PASSCRED,
                program.data(new byte[] {1, 0, 0, 0}), 4);
        }
    }

    /** The descriptor, in this process, of the socket {@code o} describes, made (with its peer) the first time. */
    private static int socketOf(Origin o, RestoreContext context) {
        if (o.link() == null) {
            return context.pair("unix:" + o.inode(), () -> new int[] {alone(o)})[0];
        }
        int[] ends = linkEnds(o.link(), o.type(), context);
        return o.inode() == o.link().first() ? ends[0] : ends[1];
    }

    private static int partnerOf(Origin o, RestoreContext context) {
        int[] ends = linkEnds(o.link(), o.type(), context);
        return o.inode() == o.link().first() ? ends[1] : ends[0];
    }

    private static int[] linkEnds(Link link, int type, RestoreContext context) {
        // the listener first: RestoreContext.pair must not be entered again while it makes the link
        int listener = link.listener() != null ? socketOf(link.listener(), context) : -1;
        return context.pair("unix-link:" + link.first() + ":" + link.second(), () -> makeLink(link, type, listener));
    }

    private static int alone(Origin o) {
        int fd = Sockets.socket(Linux.AF_UNIX, o.type() | Linux.SOCK_CLOEXEC, 0);
        try {
            bindOwn(fd, o.name());
            if (o.backlog() >= 0) {
                Sockets.listen(fd, o.backlog());
            }
            return fd;
        } catch (RuntimeException e) {
            Linux.close(fd);
            throw e;
        }
    }

    private static int[] makeLink(Link link, int type, int listener) {
        return switch (link.how()) {
            case PAIR -> {
                int[] fds = Linux.socketpair(Linux.AF_UNIX, type | Linux.SOCK_CLOEXEC);
                try {
                    // a connected end may still bind (net/unix/af_unix.c checks only that it has no name)
                    bindOwn(fds[0], link.firstName());
                    bindOwn(fds[1], link.secondName());
                } catch (RuntimeException e) {
                    Linux.close(fds[0]);
                    Linux.close(fds[1]);
                    throw e;
                }
                yield fds;
            }
            case ACCEPT -> connectAndAccept(listener, link.listener().name(), type, link.firstName());
            case ACCEPT_AT_NAME -> acceptAtName(link, type);
            default -> throw new FailedException("unknown way of connecting Unix sockets in the image: " + link.how());
        };
    }

    /**
     * The connection of an accepted socket whose listener is gone: through a listener bound to the
     * name for the moment when the name is free, else a socket pair whose accepted end stays
     * unnamed. A path that did not exist is removed again; a stale socket file (the closed
     * listener's, usually) is replaced by the moment's listener's, stale in turn once it closes.
     */
    private static int[] acceptAtName(Link link, int type) {
        String name = link.secondName();
        boolean path = !name.startsWith("@");
        boolean existed = path && Files.exists(Path.of(name), LinkOption.NOFOLLOW_LINKS);
        boolean free = !path ? probeFree(name) : !existed || isSocketFile(Path.of(name)) && probeFree(name);
        if (free) {
            if (existed) {
                deleteQuietly(Path.of(name));
            }
            int t = Sockets.socket(Linux.AF_UNIX, type | Linux.SOCK_CLOEXEC, 0);
            boolean bound = false;
            try {
                if (tryBindName(t, name) == 0) {
                    bound = true;
                    Sockets.listen(t, 1);
                    return connectAndAccept(t, name, type, link.firstName());
                }
            } finally {
                Linux.close(t);
                if (bound && path && !existed) {
                    deleteQuietly(Path.of(name));
                }
            }
        }
        int[] fds = Linux.socketpair(Linux.AF_UNIX, type | Linux.SOCK_CLOEXEC);
        try {
            bindOwn(fds[0], link.firstName());
        } catch (RuntimeException e) {
            Linux.close(fds[0]);
            Linux.close(fds[1]);
            throw e;
        }
        return fds;
    }

    /** {client, accepted}: a new client (bound to {@code clientName} if any) connected to {@code listener} at {@code name}. */
    private static int[] connectAndAccept(int listener, String name, int type, String clientName) {
        int client = Sockets.socket(Linux.AF_UNIX, type | Linux.SOCK_CLOEXEC | Linux.SOCK_NONBLOCK, 0);
        try {
            bindOwn(client, clientName);
            byte[] to = address(name);
            for (int i = 0; ; i++) {
                int err = Sockets.tryConnect(client, to);
                if (err == 0) {
                    break;
                }
                if (err != Errno.EAGAIN || i == ACCEPT_ATTEMPTS) {
                    throw new SyscallException("connect(" + display(name) + ")", err);
                }
                // the backlog is full of someone else's connections, made since the listener came back
                Linux.close(Sockets.accept(listener, Linux.SOCK_CLOEXEC));
            }
            Linux.fcntl(client, Linux.F_SETFL, 0);
            long self = ProcessHandle.current().pid();
            for (int i = 0; i < ACCEPT_ATTEMPTS; i++) {
                int accepted = Sockets.accept(listener, Linux.SOCK_CLOEXEC);
                if (Sockets.peerCredentials(accepted).pid() == self) {
                    return new int[] {client, accepted};
                }
                // another process's connection, queued ahead of ours in the moment the listener was back
                Linux.close(accepted);
            }
            throw new FailedException("connecting to " + display(name) + ": its queue held more than " + ACCEPT_ATTEMPTS
                + " connections of other processes ahead of the restore's");
        } catch (RuntimeException e) {
            Linux.close(client);
            throw e;
        }
    }

    /** Binds {@code fd} to its own name, replacing a stale socket file; refuses a name a live socket holds. */
    private static void bindOwn(int fd, String name) {
        if (name == null) {
            return;
        }
        requireUsable(name, true);
        bindName(fd, name);
    }

    /**
     * Refuses if a live socket holds {@code name}, or a file that is not a socket is at its path;
     * a socket file whose socket is gone (connect gets ECONNREFUSED) is removed when {@code removeStale}.
     */
    private static void requireUsable(String name, boolean removeStale) {
        if (name.startsWith("@")) {
            if (!probeFree(name)) {
                throw new RefusedException("Unix socket name " + display(name) + " is in use on this host (a live socket is bound "
                    + "to it); stop the process holding it, then restore again");
            }
            return;
        }
        Path p = Path.of(name);
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!isSocketFile(p)) {
            throw new RefusedException("Unix socket path " + name + " exists and is not a socket; move it away, then restore again");
        }
        if (!probeFree(name)) {
            throw new RefusedException("Unix socket path " + name + " is in use on this host (a live socket is bound there: "
                + "another process listens on it?); stop that process, then restore again");
        }
        if (removeStale) {
            deleteQuietly(p);
        }
    }

    /** A datagram's sender name must be free for a socket bound to it for the moment; a path must not exist at all. */
    private static void requireFreeForSender(String name, String what) {
        boolean free = name.startsWith("@") ? probeFree(name) : !Files.exists(Path.of(name), LinkOption.NOFOLLOW_LINKS);
        if (!free) {
            throw new RefusedException(what + " holds datagrams from " + display(name) + ", a name that is in use on this host now: "
                + "they cannot be queued again with that sender address; free the name, then restore again");
        }
    }

    /** Whether no socket is bound to {@code name}: a datagram socket's connect(2) there gets ECONNREFUSED (or ENOENT). */
    private static boolean probeFree(String name) {
        int probe = Sockets.socket(Linux.AF_UNIX, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, 0);
        try {
            int err = Sockets.tryConnect(probe, address(name));
            return err == Sockets.ECONNREFUSED || err == Errno.ENOENT;
        } finally {
            Linux.close(probe);
        }
    }

    private static boolean isSocketFile(Path p) {
        try {
            return ((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & S_IFMT) == S_IFSOCK;
        } catch (IOException e) {
            return false;
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new FailedException("cannot remove the socket file " + p + ": " + e.getMessage(), e);
        }
    }

    /** Puts the saved messages back in the queue of {@code fd}, sent from where each came. */
    private static void requeue(int fd, State s, RestoreContext context, String what) {
        if (s.queued().isEmpty()) {
            return;
        }
        Origin o = s.origin();
        if (o.link() != null) {
            int partner = partnerOf(o, context);
            for (Message m : s.queued()) {
                send(partner, m, null, what);
            }
            return;
        }
        byte[] to = address(o.name());
        Map<String, Integer> temporary = new HashMap<>();
        List<Path> files = new ArrayList<>();
        int unnamed = -1;
        try {
            for (Message m : s.queued()) {
                int from;
                if (m.from() != null) {
                    from = socketOf(m.from(), context);
                } else if (m.sender() == null) {
                    if (unnamed < 0) {
                        unnamed = Sockets.socket(Linux.AF_UNIX, o.type() | Linux.SOCK_CLOEXEC, 0);
                    }
                    from = unnamed;
                } else {
                    from = temporary.computeIfAbsent(m.sender(), n -> boundSender(n, o.type(), files, what));
                }
                send(from, m, to, what);
            }
        } finally {
            if (unnamed >= 0) {
                Linux.close(unnamed);
            }
            temporary.values().forEach(Linux::close);
            files.forEach(UnixDomainSockets::deleteQuietly);
        }
    }

    /** A socket bound to the sender name of queued datagrams whose sender is not in the image. */
    private static int boundSender(String name, int type, List<Path> files, String what) {
        requireFreeForSender(name, what);
        int t = Sockets.socket(Linux.AF_UNIX, type | Linux.SOCK_CLOEXEC, 0);
        try {
            bindName(t, name);
        } catch (RuntimeException e) {
            Linux.close(t);
            throw e;
        }
        if (!name.startsWith("@")) {
            files.add(Path.of(name));
        }
        return t;
    }

    /**
     * Sends one saved message from {@code from} (to {@code to}, or to its peer), never waiting: a
     * full send buffer is raised for the moment, as the original's had room for what it had sent.
     */
    private static void send(int from, Message m, byte[] to, String what) {
        Credentials c = m.credentials();
        Sockets.Credentials credentials = c == null ? null : new Sockets.Credentials(c.pid(), c.uid(), c.gid());
        byte[] data = m.data();
        int sent = 0;
        int raises = 0;
        int sendBuffer = -1;
        try {
            while (true) {
                byte[] rest = sent == 0 ? data : Arrays.copyOfRange(data, sent, data.length);
                long n = Sockets.trySendUnix(from, rest, to, credentials, Linux.MSG_DONTWAIT | Sockets.MSG_NOSIGNAL);
                if (n == -Errno.ESRCH && credentials != null) {
                    // the sender's pid is gone: pmig's stands in, with the sender's uid and gid
                    credentials = new Sockets.Credentials((int) ProcessHandle.current().pid(), c.uid(), c.gid());
                    continue;
                }
                if (n == -Errno.EAGAIN && raises < SEND_BUFFER_RAISES) {
                    int now = Sockets.getInt(from, Linux.SOL_SOCKET, Sockets.SO_SNDBUF);
                    if (sendBuffer < 0) {
                        sendBuffer = now;
                    }
                    Sockets.setInt(from, Linux.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, (int) Math.min(Integer.MAX_VALUE / 4, (long) now + data.length + 4096));
                    raises++;
                    continue;
                }
                if (n < 0) {
                    throw new FailedException(what + ": a queued message of " + data.length + " bytes cannot be put back: "
                        + (n == -Errno.EAGAIN ? "the queue is full (is net.unix.max_dgram_qlen lower on this host?)" : Errno.describe((int) -n)));
                }
                sent += (int) n;
                if (sent >= data.length) {
                    return; // an empty datagram is one send too
                }
            }
        } finally {
            if (sendBuffer >= 0) {
                Sockets.setInt(from, Linux.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, sendBuffer / 2);
            }
        }
    }

    private static void applyFile(String name, SocketFile f) {
        Path p = Path.of(name);
        try {
            Files.setAttribute(p, "unix:mode", f.mode());
            Files.setAttribute(p, "unix:uid", f.uid());
            Files.setAttribute(p, "unix:gid", f.gid());
        } catch (IOException e) {
            throw new FailedException("setting mode and owner of the socket file " + name + ": " + e.getMessage(), e);
        }
    }

    /** The kernel reports buffer sizes doubled; set only sizes the process chose (they differ from a fresh socket's). */
    private static void applyBuffers(int fd, State s) {
        int[] fresh = DEFAULT_BUFFERS.computeIfAbsent(s.origin().type(), UnixDomainSockets::defaultBuffers);
        if (s.sendBuffer() != fresh[0]) {
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, s.sendBuffer() / 2);
        }
        if (s.receiveBuffer() != fresh[1]) {
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUFFORCE, s.receiveBuffer() / 2);
        }
    }

    private static int[] defaultBuffers(int type) {
        int fresh = Sockets.socket(Linux.AF_UNIX, type | Linux.SOCK_CLOEXEC, 0);
        try {
            return new int[] {Sockets.getInt(fresh, Linux.SOL_SOCKET, Sockets.SO_SNDBUF), Sockets.getInt(fresh, Linux.SOL_SOCKET, Sockets.SO_RCVBUF)};
        } finally {
            Linux.close(fresh);
        }
    }
}
