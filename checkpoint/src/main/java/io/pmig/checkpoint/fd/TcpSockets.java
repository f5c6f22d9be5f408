package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.TcpConnection;
import io.pmig.checkpoint.UnsettledException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.PmigTcpState;
import io.pmig.nativeio.NativeMemory;
import io.pmig.checkpoint.nativeio.Sockets;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * TCP sockets, IPv4 and IPv6: listening ones by address and options, established ones through
 * TCP_REPAIR (sequence numbers, both queues with their contents, MSS, window scale, SACK,
 * timestamps and their offset, the window), in the order the kernel accepts them
 * (shared/FACTS.md). Dumping leaves an established socket in repair mode: if the process is then
 * killed its socket closes without a packet; if it goes on, {@link FdDumper#leaveRepair} ends it.
 * The caller must have stopped inbound packets to the connections before the dump.
 */
public final class TcpSockets implements FileKind<TcpSockets.State> {
    private static final int TCP_ESTABLISHED = 1;
    private static final int TCP_FIN_WAIT1 = 4;
    private static final int TCP_FIN_WAIT2 = 5;
    private static final int TCP_CLOSE_WAIT = 8;
    private static final int TCP_LAST_ACK = 9;
    private static final int TCP_CLOSING = 11;
    private static final int SHUT_RD = 0;
    private static final int SHUT_WR = 1;
    private static final int TCP_LISTEN = 10;
    private static final int TCP_CLOSE = 7;
    private static final int POLLERR = 0x8;
    private static final int POLLRDHUP = 0x2000;
    private static final String[] STATE_NAMES = {"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
        "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"};
    private static final int TCPI_OPT_TIMESTAMPS = 1;
    private static final int TCPI_OPT_SACK = 2;
    private static final int TCPI_OPT_WSCALE = 4;
    private static final int TCPOPT_MSS = 2;
    private static final int MAX_TCP_WINDOW = 32767;
    private static final int SO_SNDBUFFORCE = 32;
    private static final int SO_RCVBUFFORCE = 33;
    private static final int QUEUE_SLACK = 64 << 10;
    private static final java.util.Map<Integer, int[]> DEFAULT_BUFFERS = new java.util.concurrent.ConcurrentHashMap<>();
    private static final int TCPOPT_WINDOW = 3;
    private static final int TCPOPT_SACK_PERM = 4;
    private static final int TCPOPT_TIMESTAMP = 8;
    private static final String PROTOCOL = "tcp";
    /** The port the connection that ends a restored socket goes to (nothing is sent to it). */
    private static final byte DISCARD_PORT = 9;

    /**
     * Options a server sets, as getsockopt reports them (buffer sizes doubled by the kernel); {@code others}: the
     * rest that differ from a fresh socket's ({@link InetOptions}; null in images made before they were kept).
     */
    public record Options(boolean reuseAddress, boolean reusePort, boolean keepAlive, boolean noDelay, int sendBuffer,
                          int receiveBuffer, boolean v6Only, int keepIdle, int keepInterval, int keepCount,
                          java.util.Map<String, byte[]> others) {
    }

    /**
     * Connection state read in repair mode; the queues hold what was still to send and to read.
     * {@code timestampReadAtMillis}: the wall-clock time the timestamp clock was read (0 in images
     * made before it was kept).
     */
    public record Connection(int sendSeq, int receiveSeq, int mss, int tcpOptions, int sendWindowScale, int receiveWindowScale,
                             int timestamp, long timestampReadAtMillis, int[] window, byte[] sendQueue, int notSent,
                             byte[] receiveQueue) {
    }

    /**
     * A socket whose connection has ended (state CLOSE, shut both ways: reset, or closed by both ends), which keeps the
     * address it had. {@code portHeld}: it was bound to its port by name before it connected, so the port is still
     * its own; else the port went back to the ephemeral range with the connection.
     */
    public record Ended(boolean portHeld) {
    }

    /**
     * {@code foreignAddress}: a socket not connected whose local address the host lacked (bound with IP_FREEBIND or
     * IP_TRANSPARENT, perhaps turned off since). {@code ended}: null but for a socket whose connection ended.
     */
    @ImageKind("file.tcp")
    public record State(int id, int family, int flags, int tcpState, byte[] local, byte[] peer, Options options, int backlog,
                        Connection connection, boolean foreignAddress, Ended ended) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return file.link().startsWith("socket:[") && Sockets.isInet(file.local(), Linux.SOCK_STREAM, Sockets.IPPROTO_TCP);
    }

    /** The connection of socket {@code file} by its two ends, or null for a listener or a socket not connected. Touches nothing. */
    static TcpConnection connectionOf(OpenFile file) {
        int fd = file.local();
        int state = stateOf(fd);
        if (!ourFinSent(state) && !peerFinReceived(state) && state != TCP_ESTABLISHED) {
            return null;
        }
        return new TcpConnection(Sockets.socketAddress(Sockets.localAddress(fd)), Sockets.socketAddress(Sockets.peerAddress(fd)));
    }

    /** The connection of a saved socket by its two ends, or null for a listener. */
    public static TcpConnection connectionOf(State state) {
        return state.connection() == null ? null
            : new TcpConnection(Sockets.socketAddress(state.local()), Sockets.socketAddress(state.peer()));
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        int fd = file.local();
        int family = Sockets.getInt(fd, Linux.SOL_SOCKET, Linux.SO_DOMAIN);
        ByteBuffer info = ByteBuffer.wrap(Sockets.getsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_INFO, 104)).order(ByteOrder.LITTLE_ENDIAN);
        int state = info.get(0) & 0xff;
        Options options = options(file, family);
        byte[] local = Sockets.localAddress(fd);
        if (state == TCP_LISTEN) {
            int pending = info.getInt(24); // tcpi_unacked: the accept queue of a listener
            if (pending > 0) {
                // they cannot be put back into a listener's queue; with new connections held off, the server takes them soon
                throw new UnsettledException(file.describe() + ": listening TCP socket " + Sockets.describe(local) + " has " + pending
                    + " connection(s) the server has not accepted");
            }
            return new State(id, family, file.statusFlags(), state, local, null, options, info.getInt(28), null,
                !Sockets.addressIsLocal(local), null);
        }
        if (state == TCP_CLOSE) {
            Ended ended = ended(file, fd, family, local);
            if (ended != null) {
                return new State(id, family, file.statusFlags(), state, local, null, options, 0, null, false, ended);
            }
            byte[] bound = unconnected(file, fd, family, local);
            return new State(id, family, file.statusFlags(), state, bound, null, options, 0, null,
                bound != null && !Sockets.addressIsLocal(bound), null);
        }
        if (!ourFinSent(state) && !peerFinReceived(state) && state != TCP_ESTABLISHED) {
            throw new RefusedException(file.describe() + ": TCP connection " + Sockets.describe(local) + " in state "
                + (state < STATE_NAMES.length ? STATE_NAMES[state] : Integer.toString(state)) + " is not supported yet");
        }
        byte[] peer = Sockets.peerAddress(fd);
        int optionsSeen = info.get(5) & 0xff;
        int scales = info.get(6) & 0xff;
        PmigTcpState.Socket read = context.tcpStateFromModule(file);
        long readAt = context.tcpStateReadAtMillis();
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 1);
        context.enteredRepair(file.fd(), options.reuseAddress());
        if (read == null) {
            read = readInRepair(fd, state, optionsSeen, scales);
            readAt = System.currentTimeMillis();
        }
        byte[] receiveQueue = peekQueue(fd, Sockets.TCP_RECV_QUEUE, read.inq());
        // an unacknowledged FIN of ours counts in SIOCOUTQ but is no byte of the queue
        byte[] sendQueue = peekQueue(fd, Sockets.TCP_SEND_QUEUE, ourFinSent(state) && read.outq() > 0 ? read.outq() - 1 : read.outq());
        Connection c = new Connection(read.writeSeq(), read.receiveNext(), read.mssClamp(), read.options(), read.sendWindowScale(),
            read.receiveWindowScale(), read.timestamp(), readAt, read.window(), sendQueue, read.notSent(),
            receiveQueue);
        return new State(id, family, file.statusFlags(), state, local, peer, options, 0, c, false, null);
    }

    /**
     * How a socket in state CLOSE whose connection ended was left, or null for one never connected. tcp_done shuts it
     * both ways, which poll shows as a read shutdown; it keeps its port (in sock_diag's bound-inactive table, Linux
     * 6.6+) only if the process bound it by name, and sock_diag then tells its shutdown state. A pending error
     * (ECONNRESET not read yet) is refused by {@link #unconnected}: reading it would take it from the process.
     */
    private static Ended ended(OpenFile file, int fd, int family, byte[] local) {
        int ready = Sockets.poll(fd, POLLRDHUP);
        if ((ready & POLLRDHUP) == 0 || (ready & POLLERR) != 0 || port(local) == 0) {
            return null;
        }
        int shutdown = InetDiag.shutdown(family, Sockets.IPPROTO_TCP, file.linkInode());
        if (shutdown >= 0 && shutdown != (Sockets.RCV_SHUTDOWN | Sockets.SEND_SHUTDOWN)) {
            return null;
        }
        return new Ended(shutdown >= 0);
    }

    /**
     * A socket in state CLOSE: created and not connected yet, perhaps bound (a server's socket before listen, a client's
     * before connect), comes back with its options and its address. Refused: a pending error (reading it would take it
     * from the process) and a read shutdown of a socket never connected. Returns the address to bind again, or null.
     */
    private static byte[] unconnected(OpenFile file, int fd, int family, byte[] local) {
        int ready = Sockets.poll(fd, POLLRDHUP);
        if ((ready & POLLERR) != 0) {
            throw new RefusedException(file.describe() + ": TCP socket " + Sockets.describe(local) + " (not connected, or its "
                + "connection ended) has a pending error (a reset or a failed connect the process has not read), which "
                + "reading would take from it; retry once the process has read it");
        }
        if ((ready & POLLRDHUP) != 0) {
            throw new RefusedException(file.describe() + ": unconnected TCP socket " + Sockets.describe(local)
                + " has been shut down for reading, which cannot be restored yet");
        }
        if (port(local) == 0) {
            return null;
        }
        // a bound socket not listening or connected is in sock_diag's bound-inactive table (Linux 6.6+); one whose
        // connection ended is in none
        if (InetDiag.shutdown(family, Sockets.IPPROTO_TCP, file.linkInode()) < 0) {
            throw new RefusedException(file.describe() + ": TCP socket " + Sockets.describe(local) + " is closed (its connection "
                + "ended), or bound on a kernel whose sock_diag does not list bound sockets (before Linux 6.6); it cannot be "
                + "restored yet");
        }
        return local;
    }

    private static int port(byte[] sockaddr) {
        return (sockaddr[2] & 0xff) << 8 | (sockaddr[3] & 0xff);
    }

    /** FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK: this side has sent its FIN (counted in the send sequence). */
    private static boolean ourFinSent(int state) {
        return state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 || state == TCP_CLOSING || state == TCP_LAST_ACK;
    }

    /** CLOSE_WAIT, CLOSING, LAST_ACK: the peer's FIN has arrived (counted in the receive sequence). */
    private static boolean peerFinReceived(int state) {
        return state == TCP_CLOSE_WAIT || state == TCP_CLOSING || state == TCP_LAST_ACK;
    }

    private static Options options(OpenFile file, int family) {
        int fd = file.local();
        return new Options(
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEADDR) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEPORT) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_KEEPALIVE) != 0,
            Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_SNDBUF),
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUF),
            family == Sockets.AF_INET6 && Sockets.getInt(fd, Sockets.IPPROTO_IPV6, Sockets.IPV6_V6ONLY) != 0,
            Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_KEEPIDLE),
            Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_KEEPINTVL),
            Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_KEEPCNT),
            InetOptions.changed(file, family, Linux.SOCK_STREAM));
    }

    /**
     * Takes a connection out of repair mode (the kernel sends a window probe) and gives it its SO_REUSEADDR
     * back: repair mode forced address reuse on, and leaving it turns reuse off.
     */
    static void leaveRepair(int fd, boolean reuseAddress) {
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 0);
        if (reuseAddress) {
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
        }
    }

    /**
     * What pmig.ko reads in one call for all of a process's sockets, read for one socket in repair mode with
     * the getsockopts and ioctls (TCP_MAXSEG reports the MSS clamp in repair mode).
     */
    private static PmigTcpState.Socket readInRepair(int fd, int state, int optionsSeen, int scales) {
        int inq = Sockets.ioctlCount(fd, Sockets.SIOCINQ);
        int outq = Sockets.ioctlCount(fd, Sockets.SIOCOUTQ);
        int notSent = Sockets.ioctlCount(fd, Sockets.SIOCOUTQNSD);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_RECV_QUEUE);
        int receiveSeq = Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_QUEUE_SEQ);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_SEND_QUEUE);
        int sendSeq = Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_QUEUE_SEQ);
        ByteBuffer w = ByteBuffer.wrap(Sockets.getsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_WINDOW, 20)).order(ByteOrder.LITTLE_ENDIAN);
        int[] window = {w.getInt(0), w.getInt(4), w.getInt(8), w.getInt(12), w.getInt(16)};
        return new PmigTcpState.Socket(fd, state, optionsSeen, scales & 0xf, scales >> 4, 0, 0, sendSeq, receiveSeq,
            Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_MAXSEG), Sockets.getInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_TIMESTAMP),
            inq, outq, notSent, window);
    }

    /** Repair queue {@code queue}'s bytes, copied without taking them. */
    private static byte[] peekQueue(int fd, int queue, int length) {
        if (length == 0) {
            return new byte[0];
        }
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, queue);
        NativeMemory buf = NativeMemory.allocate(length);
        long n = Linux.recv(fd, buf.address(), length, Linux.MSG_PEEK | Linux.MSG_DONTWAIT);
        if (n != length) {
            throw new FailedException("peeking a TCP queue of " + length + " bytes returned " + n);
        }
        return buf.bytes(0, length);
    }

    @Override
    public void checkRestorable(State state) {
        InetOptions.checkDevice(state.options().others(), "TCP socket " + (state.local() != null ? Sockets.describe(state.local()) : "(not bound)"));
        if (state.local() != null && !state.foreignAddress() && !InetOptions.bindsForeignAddresses(state.options().others())
                && !Sockets.addressIsLocal(state.local())) {
            throw new RefusedException("TCP socket " + Sockets.describe(state.local()) + " needs its address on this host, "
                + "which does not have it; move the service's VIP here before restoring");
        }
        if (state.ended() != null && !EndingSupport.SUPPORTED) {
            throw new RefusedException("TCP socket " + Sockets.describe(state.local()) + " is one whose connection ended, which "
                + "this kernel cannot make again: it needs IP_LOCAL_PORT_RANGE (Linux 6.3+) and sock_diag's SOCK_DESTROY "
                + "(CONFIG_INET_DIAG_DESTROY)");
        }
    }

    /** Whether this kernel can end a connection as {@link #endConnection} does: tried once, on loopback, sending nothing. */
    private static final class EndingSupport {
        static final boolean SUPPORTED = tryEnding();
    }

    private static boolean tryEnding() {
        int fd = Sockets.socket(Sockets.AF_INET, Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC);
        try {
            Sockets.getInt(fd, Sockets.IPPROTO_IP, Sockets.IP_LOCAL_PORT_RANGE);
            Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 1);
            byte[] peer = {(byte) Sockets.AF_INET, 0, 0, DISCARD_PORT, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
            Sockets.connect(fd, peer);
            InetDiag.abort(Sockets.AF_INET, Sockets.localAddress(fd), peer);
            return stateOf(fd) == TCP_CLOSE;
        } catch (RuntimeException unsupported) {
            return false;
        } finally {
            Linux.close(fd);
        }
    }

    @Override
    public int open(State s, RestoreContext context) {
        int fd = context.hold(Sockets.socket(s.family(), Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC));
        try {
            if (s.family() == Sockets.AF_INET6) {
                Sockets.setInt(fd, Sockets.IPPROTO_IPV6, Sockets.IPV6_V6ONLY, s.options().v6Only() ? 1 : 0);
            }
            if (s.tcpState() == TCP_LISTEN) {
                applyOptions(fd, s.options());
                applyChosenBuffers(fd, s.options(), s.family());
                InetOptions.applyBufferLocks(fd, s.options().others());
                bindSharing(fd, s, context);
                Sockets.listen(fd, s.backlog());
            } else if (s.ended() != null) {
                endConnection(fd, s, context);
                applyOptions(fd, s.options());
                applyChosenBuffers(fd, s.options(), s.family());
                InetOptions.applyBufferLocks(fd, s.options().others());
            } else if (s.tcpState() == TCP_CLOSE) {
                applyOptions(fd, s.options());
                applyChosenBuffers(fd, s.options(), s.family());
                InetOptions.applyBufferLocks(fd, s.options().others());
                if (s.local() != null) {
                    bindSharing(fd, s, context);
                }
            } else {
                context.repaired(restoreConnection(fd, s));
            }
            Linux.fcntl(fd, Linux.F_SETFL, s.flags() & Linux.O_NONBLOCK);
            return fd;
        } catch (RuntimeException e) {
            throw new FailedException("restoring TCP socket " + (s.local() != null ? Sockets.describe(s.local()) : "(not bound)")
                + (s.peer() != null ? " -> " + Sockets.describe(s.peer()) : "") + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void beforeOpening(State s, RestoreContext context) {
        if (s.connection() == null && s.local() != null && (s.ended() == null || s.ended().portHeld())) {
            InetOptions.countBinding(PROTOCOL, s.local(), context);
        }
    }

    /**
     * Takes a new socket through a connection that ends as its original's did, without a packet on the wire (the
     * service's address may be held at this moment): connected in repair mode (no handshake) from the saved address
     * and port (bound by name where the original held its port, else picked as the connection's ephemeral port
     * through IP_LOCAL_PORT_RANGE, so the port is released again at its end) to a port of its own address, then
     * aborted by the kernel (sock_diag SOCK_DESTROY): tcp_done leaves it in state CLOSE, shut both ways, with its
     * address. The abort's error, which the original had read, is taken; repair mode ends on a closed socket, which
     * sends nothing.
     */
    private static void endConnection(int fd, State s, RestoreContext context) {
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 1);
        if (s.ended().portHeld()) {
            bindSharing(fd, s, context);
        } else {
            Sockets.setInt(fd, Sockets.IPPROTO_IP, Sockets.IP_LOCAL_PORT_RANGE, port(s.local()) * 0x10001);
        }
        byte[] peer = s.local().clone();
        peer[2] = 0;
        peer[3] = DISCARD_PORT;
        Sockets.connect(fd, peer);
        Sockets.setInt(fd, Sockets.IPPROTO_IP, Sockets.IP_LOCAL_PORT_RANGE, 0);
        InetDiag.abort(s.family(), Sockets.localAddress(fd), peer);
        if (stateOf(fd) != TCP_CLOSE) {
            throw new FailedException("the connection made to end it is still in state " + STATE_NAMES[stateOf(fd)] + " after its abort");
        }
        Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_ERROR);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 0);
    }

    private static int stateOf(int fd) {
        return Sockets.getsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_INFO, 104)[0] & 0xff;
    }

    /** Binds a socket not connected: {@link InetOptions#bind}. */
    private static void bindSharing(int fd, State s, RestoreContext context) {
        InetOptions.bind(fd, PROTOCOL, s.local(), s.options().reusePort(), s.foreignAddress(), s.options().others(), context);
    }

    /**
     * Rebuilds a connection and leaves it in repair mode: it sends nothing until {@link Repaired#goLive()}.
     * A half-closed connection is rebuilt as an established one, then closed as far as it was:
     * our FIN goes back into the send queue as already sent (shutdown in repair mode transmits
     * nothing), and a FIN the peer sent becomes a read shutdown, which gives the process the same
     * end of stream. Sequence numbers keep counting the FINs, so the peer sees the same numbers.
     */
    private static Repaired restoreConnection(int fd, State s) {
        Connection c = s.connection();
        boolean ourFin = ourFinSent(s.tcpState());
        // data queued before our FIN counts as sent: it goes out again by retransmission
        int sent = ourFin ? c.sendQueue().length : c.sendQueue().length - c.notSent();
        // repair mode lets the bind share the port with a listener, as the accepted socket once did;
        // setting SO_REUSEADDR before the bind would take that away
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 1);
        Sockets.bind(fd, s.local());
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_RECV_QUEUE);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_QUEUE_SEQ, c.receiveSeq() - c.receiveQueue().length);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_SEND_QUEUE);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_QUEUE_SEQ, c.sendSeq() - (ourFin ? 1 : 0) - c.sendQueue().length);
        // without the saved MSS clamp before connect the connection is stuck at an MSS of 524;
        // TCP_MAXSEG takes at most MAX_TCP_WINDOW, less than loopback's MSS
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_MAXSEG, Math.min(c.mss(), MAX_TCP_WINDOW));
        Sockets.connect(fd, s.peer());
        Sockets.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_OPTIONS, repairOptions(c));
        if ((c.tcpOptions() & TCPI_OPT_TIMESTAMPS) != 0) {
            Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_TIMESTAMP, timestampNow(c, System.currentTimeMillis()));
        }
        // the buffers as they were (the kernel doubles what it is given; the FORCE variants are not capped at
        // net.core.[rw]mem_max, which an autotuned connection's buffers exceed), and room for the queues in any case
        Sockets.setInt(fd, Linux.SOL_SOCKET, SO_SNDBUFFORCE, Math.max(s.options().sendBuffer() / 2, c.sendQueue().length + QUEUE_SLACK));
        Sockets.setInt(fd, Linux.SOL_SOCKET, SO_RCVBUFFORCE, Math.max(s.options().receiveBuffer() / 2, c.receiveQueue().length + QUEUE_SLACK));
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_RECV_QUEUE);
        sendAll(fd, c.receiveQueue(), 0, c.receiveQueue().length);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_QUEUE, Sockets.TCP_SEND_QUEUE);
        sendAll(fd, c.sendQueue(), 0, sent);
        int[] w = c.window();
        byte[] window = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putInt(w[0]).putInt(w[1]).putInt(w[2]).putInt(w[3]).putInt(w[4]).array();
        Sockets.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR_WINDOW, window);
        if (ourFin) {
            Sockets.shutdown(fd, SHUT_WR);
        }
        if (peerFinReceived(s.tcpState())) {
            Sockets.shutdown(fd, SHUT_RD);
        }
        applyOptions(fd, s.options());
        // SO_*BUFFORCE locked the sizes: an autotuned connection grows its buffers with its traffic again
        InetOptions.applyBufferLocks(fd, s.options().others());
        return new Repaired(fd, s, sent);
    }

    /**
     * A restored connection still in repair mode, held through the engine's own descriptor of it. Every
     * connection of an image is rebuilt before any goes live, so whoever holds the service's packets
     * can let them in between (RestoreOptions.beforeSocketsGoLive): leaving repair sends a window
     * probe, whose answer must not be dropped.
     */
    public static final class Repaired {
        private final int fd;
        private final State state;
        private final int sent;

        private Repaired(int fd, State state, int sent) {
            this.fd = fd;
            this.state = state;
            this.sent = sent;
        }

        public TcpConnection connection() {
            return connectionOf(state);
        }

        /** Repair off (the kernel sends a window probe), then the never-sent tail of the send queue, normally. */
        public void goLive() {
            byte[] queue = state.connection().sendQueue();
            try {
                leaveRepair(fd, state.options().reuseAddress());
                // after the window is back, else it waits for the probe timer
                sendAll(fd, queue, sent, queue.length - sent);
            } catch (RuntimeException e) {
                throw new FailedException("TCP connection " + connection() + " could not go live: " + e.getMessage(), e);
            }
        }

        /** Back into repair mode, so that closing the socket (killing its process) sends nothing to the peer. */
        public void silence() {
            Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR, 1);
        }
    }

    /**
     * The timestamp clock goes on from its reading plus the (wall-clock) time since. Restored as
     * read, it would lag: the original may still send a segment stamped later (a delayed ACK goes
     * out even in repair mode), and the peer's PAWS check then drops every segment the copy sends
     * until its clock catches up, and waits for the retransmission timeout (1 s on a fresh
     * restore) to get them again. Across hosts this needs their clocks in step (NTP); a clock
     * behind only shortens the advance.
     *
     * <p>The value's lowest bit is not part of the clock (Linux 6.7+, include/net/tcp.h): set, the
     * connection stamps in microseconds (tcp_usec_ts), clear, in milliseconds. It is kept as read and the
     * advance counted in the clock's unit: an odd advance of a millisecond clock used to switch the copy
     * to microseconds (its clock then ran a thousand times faster, and the next move's reading, taken
     * for milliseconds, put it back tens of seconds, past every peer's PAWS check).
     */
    static int timestampNow(Connection c, long nowMillis) {
        long elapsed = c.timestampReadAtMillis() == 0 ? 0 : Math.max(0, nowMillis - c.timestampReadAtMillis());
        boolean micros = (c.timestamp() & Sockets.TCP_TIMESTAMP_MICROSECONDS) != 0;
        long advance = Math.min(micros ? elapsed * 1000 : elapsed, Integer.MAX_VALUE) & ~Sockets.TCP_TIMESTAMP_MICROSECONDS;
        return (int) (c.timestamp() + advance);
    }

    private static byte[] repairOptions(Connection c) {
        ByteBuffer b = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(TCPOPT_MSS).putInt(c.mss());
        if ((c.tcpOptions() & TCPI_OPT_WSCALE) != 0) {
            b.putInt(TCPOPT_WINDOW).putInt(c.sendWindowScale() | c.receiveWindowScale() << 16);
        }
        if ((c.tcpOptions() & TCPI_OPT_SACK) != 0) {
            b.putInt(TCPOPT_SACK_PERM).putInt(0);
        }
        if ((c.tcpOptions() & TCPI_OPT_TIMESTAMPS) != 0) {
            b.putInt(TCPOPT_TIMESTAMP).putInt(0);
        }
        return java.util.Arrays.copyOf(b.array(), b.position());
    }

    private static void applyOptions(int fd, Options o) {
        Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEADDR, o.reuseAddress() ? 1 : 0);
        Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEPORT, o.reusePort() ? 1 : 0);
        Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_KEEPALIVE, o.keepAlive() ? 1 : 0);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, o.noDelay() ? 1 : 0);
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_KEEPIDLE, o.keepIdle());
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_KEEPINTVL, o.keepInterval());
        Sockets.setInt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_KEEPCNT, o.keepCount());
        InetOptions.apply(fd, o.others());
    }

    /**
     * The buffer sizes of a socket without traffic (a listener, whose connections inherit them, or one not connected
     * yet). The kernel reports them doubled; only sizes the process chose are set (they differ from a fresh socket's:
     * only traffic tunes them), so the others stay unlocked and its connections' grow with their traffic as before.
     */
    private static void applyChosenBuffers(int fd, Options o, int family) {
        int[] fresh = DEFAULT_BUFFERS.computeIfAbsent(family, TcpSockets::defaultBuffers);
        if (o.sendBuffer() != fresh[0]) {
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_SNDBUF, o.sendBuffer() / 2);
        }
        if (o.receiveBuffer() != fresh[1]) {
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUF, o.receiveBuffer() / 2);
        }
    }

    /** {SO_SNDBUF, SO_RCVBUF} of a fresh TCP socket of {@code family} on this host. */
    private static int[] defaultBuffers(int family) {
        int fresh = Sockets.socket(family, Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC);
        try {
            return new int[] {Sockets.getInt(fresh, Linux.SOL_SOCKET, Sockets.SO_SNDBUF), Sockets.getInt(fresh, Linux.SOL_SOCKET, Sockets.SO_RCVBUF)};
        } finally {
            Linux.close(fresh);
        }
    }

    private static void sendAll(int fd, byte[] data, int from, int length) {
        if (length == 0) {
            return;
        }
        NativeMemory m = NativeMemory.allocate(length);
        m.put(0, data, from, length);
        long done = 0;
        while (done < length) {
            // never wait: a repair-mode queue has no peer to drain it, so a full buffer is an error
            done += Linux.send(fd, m.address() + done, length - done, Linux.MSG_DONTWAIT);
        }
    }
}
