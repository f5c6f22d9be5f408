package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.UnsettledException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Sockets;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

/**
 * Raw IPv4 and IPv6 sockets (ping, traceroute, routing daemons): protocol, local address if bound, peer if connected
 * (which getpeername does not tell of a raw socket: /proc/PID/net/raw does), read shutdown,
 * O_NONBLOCK, SO_REUSEADDR, SO_BROADCAST, buffer sizes, and the options of {@link InetOptions} (its socket filter among
 * them): IP_HDRINCL /
 * IPV6_HDRINCL, the ICMP and ICMPv6 type filters, IPV6_CHECKSUM, TTL, TOS... (linux/in.h, linux/icmp.h,
 * linux/icmpv6.h).
 *
 * <p>A raw socket receives copies of every packet of its protocol: packets queued and not read yet make the process
 * unsettled (it is let run until it reads them), since they cannot be put back as they came. Refused: a pending error
 * (reading it would take it from the process) and per-socket option memory (multicast memberships, IPv6 options set
 * with setsockopt).
 */
public final class RawSockets implements FileKind<RawSockets.State> {
    private static final int TCP_ESTABLISHED = 1;
    /** asm-generic/poll.h */
    private static final int POLLHUP = 0x10;
    private static final int POLLRDHUP = 0x2000;

    /** {@code peer}: the sockaddr it is connected to, or null; {@code shutdown}: RCV_SHUTDOWN and SEND_SHUTDOWN. */
    @ImageKind("file.raw")
    public record State(int id, int family, int protocol, int flags, byte[] local, byte[] peer, boolean reuseAddress,
                        boolean broadcast, int sendBuffer, int receiveBuffer, Map<String, byte[]> options, int shutdown)
        implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        if (!file.link().startsWith("socket:[")) {
            return false;
        }
        int domain = Sockets.getInt(file.local(), Linux.SOL_SOCKET, Linux.SO_DOMAIN);
        return (domain == Sockets.AF_INET || domain == Sockets.AF_INET6)
            && Sockets.getInt(file.local(), Linux.SOL_SOCKET, Linux.SO_TYPE) == Sockets.SOCK_RAW;
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        int fd = file.local();
        int family = Sockets.getInt(fd, Linux.SOL_SOCKET, Linux.SO_DOMAIN);
        int protocol = Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_PROTOCOL);
        String what = file.describe() + ": raw " + (family == Sockets.AF_INET ? "IPv4" : "IPv6") + " socket of protocol " + protocol;
        if ((Sockets.poll(fd, Sockets.POLLIN) & Sockets.POLLERR) != 0) {
            throw new RefusedException(what + " has a pending error (an ICMP error, or an entry in its IP_RECVERR error "
                + "queue) that cannot be read without taking it from the process; retry once the process has read it");
        }
        Map<String, byte[]> options = InetOptions.changed(file, family, Sockets.SOCK_RAW, protocol);
        if (InetOptions.holdsOtherOptionMemory(fd, family, Sockets.SOCK_RAW, protocol, options)) {
            throw new RefusedException(what + " holds per-socket option state (multicast group memberships, or IPv6 "
                + "options set with setsockopt), which cannot be saved yet");
        }
        if (Sockets.meminfo(fd)[Sockets.SK_MEMINFO_RMEM_ALLOC] != 0) {
            throw new UnsettledException(what + " has packets queued that the process has not read, which cannot be put back");
        }
        byte[] local = Sockets.localAddress(fd);
        byte[] peer = peerOf(file, family);
        int ready = Sockets.poll(fd, POLLRDHUP);
        // poll shows a read shutdown, and a hang-up once both ways are shut; a write shutdown alone changes nothing a
        // raw socket does (raw_sendmsg does not look at it), nor is it shown anywhere but in sock_diag's raw table
        int shutdown = (ready & POLLHUP) != 0 ? Sockets.RCV_SHUTDOWN | Sockets.SEND_SHUTDOWN
            : (ready & POLLRDHUP) != 0 ? Sockets.RCV_SHUTDOWN : 0;
        return new State(id, family, protocol, file.statusFlags(), local, peer,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEADDR) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_BROADCAST) != 0,
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_SNDBUF),
            Sockets.getInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUF),
            options, shutdown);
    }

    /**
     * The sockaddr socket {@code file} is connected to, or null: getpeername does not tell it of a raw socket, and
     * sock_diag only where the kernel has raw diagnostics (CONFIG_INET_RAW_DIAG); /proc/PID/net/raw[6] always does
     * (net/ipv4/raw.c raw_sock_seq_show: the remote address as the kernel's 32-bit words in hex, state, inode).
     */
    private static byte[] peerOf(OpenFile file, int family) {
        java.nio.file.Path table = java.nio.file.Path.of("/proc", Integer.toString(file.pid()), "net",
            family == Sockets.AF_INET ? "raw" : "raw6");
        List<String> lines;
        try {
            lines = java.nio.file.Files.readAllLines(table);
        } catch (java.io.IOException e) {
            throw new FailedException(file.describe() + ": cannot read " + table + ": " + e.getMessage(), e);
        }
        String inode = Long.toString(file.linkInode());
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 9 && f[9].equals(inode)) {
                if (Integer.parseInt(f[3], 16) != TCP_ESTABLISHED) {
                    return null;
                }
                String hex = f[2].substring(0, f[2].indexOf(':'));
                ByteBuffer b = ByteBuffer.allocate(family == Sockets.AF_INET ? 16 : 28).order(ByteOrder.LITTLE_ENDIAN);
                b.putShort((short) family).putShort((short) 0);
                if (family == Sockets.AF_INET6) {
                    b.putInt(0);                        // sin6_flowinfo
                }
                for (int i = 0; i < hex.length(); i += 8) {
                    b.putInt((int) Long.parseLong(hex.substring(i, i + 8), 16));    // the kernel's words, in its byte order
                }
                return b.array();
            }
        }
        throw new FailedException(file.describe() + ": not listed in " + table);
    }

    @Override
    public void checkRestorable(State state) {
        String what = "raw socket of protocol " + state.protocol();
        InetOptions.checkDevice(state.options(), what);
        if (bound(state) && !InetOptions.bindsForeignAddresses(state.options()) && !Sockets.addressIsLocal(state.local())) {
            throw new RefusedException(what + " is bound to " + Sockets.describe(state.local()) + ", which this host lacks; "
                + "move the service's VIP here before restoring");
        }
    }

    @Override
    public int open(State s, RestoreContext context) {
        int fd = context.hold(Sockets.socket(s.family(), Sockets.SOCK_RAW | Linux.SOCK_CLOEXEC, s.protocol()));
        try {
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_REUSEADDR, s.reuseAddress() ? 1 : 0);
            Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_BROADCAST, s.broadcast() ? 1 : 0);
            InetOptions.apply(fd, s.options());
            if (bound(s)) {
                Sockets.bind(fd, s.local());
            }
            if (s.peer() != null) {
                Sockets.connect(fd, s.peer());
            }
            applyBuffers(fd, s);
            InetOptions.applyBufferLocks(fd, s.options());
            UdpSockets.shutdown(fd, s.shutdown());
            Linux.fcntl(fd, Linux.F_SETFL, s.flags() & Linux.O_NONBLOCK);
            return fd;
        } catch (RuntimeException e) {
            throw new FailedException("restoring raw socket of protocol " + s.protocol() + ": " + e.getMessage(), e);
        }
    }

    /** Bound to an address (a raw socket's "port" is its protocol, whether bound or not). */
    private static boolean bound(State s) {
        int from = s.family() == Sockets.AF_INET ? 4 : 8;
        for (int i = from; i < from + (s.family() == Sockets.AF_INET ? 4 : 16); i++) {
            if (s.local()[i] != 0) {
                return true;
            }
        }
        return false;
    }

    /** The buffer sizes the process chose (they differ from a fresh socket's), halved as the kernel doubles them. */
    private static void applyBuffers(int fd, State s) {
        int fresh = Sockets.socket(s.family(), Sockets.SOCK_RAW | Linux.SOCK_CLOEXEC, s.protocol());
        try {
            if (s.sendBuffer() != Sockets.getInt(fresh, Linux.SOL_SOCKET, Sockets.SO_SNDBUF)) {
                Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_SNDBUFFORCE, s.sendBuffer() / 2);
            }
            if (s.receiveBuffer() != Sockets.getInt(fresh, Linux.SOL_SOCKET, Sockets.SO_RCVBUF)) {
                Sockets.setInt(fd, Linux.SOL_SOCKET, Sockets.SO_RCVBUFFORCE, s.receiveBuffer() / 2);
            }
        } finally {
            Linux.close(fresh);
        }
    }
}
