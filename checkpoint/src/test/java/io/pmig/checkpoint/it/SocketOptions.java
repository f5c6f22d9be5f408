package io.pmig.checkpoint.it;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Sockets;
import io.pmig.nativeio.SyscallException;
import java.util.HexFormat;
import java.util.List;

/**
 * The options of a socket of another process as one line, read through a copy of its descriptor
 * (pidfd_getfd): every option below that the socket answers (an option of another level answers
 * ENOPROTOOPT or EOPNOTSUPP, the same for the original and its copy), and the poll state, which shows a
 * read shutdown, a hang-up or an error. A socket's shutdown state and queues are compared by the test
 * programs themselves.
 *
 * <p>Legitimately different, so not read: SO_RCVBUF and SO_SNDBUF of a TCP connection (the kernel
 * grows them with the traffic unless the process set them, and a restore sizes them to hold the queues
 * it put back), TCP_INFO (counters and round-trip estimates), SO_COOKIE (a new socket's number),
 * SO_INCOMING_CPU and SO_INCOMING_NAPI_ID (where the last packet came in).
 *
 * <p>The list is the test's own, apart from the engine's (fd/InetOptions) on purpose: an option the
 * engine does not know must still show here.
 */
final class SocketOptions {
    private record Option(String name, int level, int option, int length) {
    }

    private static final int SOL_SOCKET = Linux.SOL_SOCKET;
    private static final int IP = Sockets.IPPROTO_IP;
    private static final int IPV6 = Sockets.IPPROTO_IPV6;
    private static final int TCP = Sockets.IPPROTO_TCP;
    private static final int UDP = Sockets.SOL_UDP;

    /** asm-generic/socket.h, linux/in.h, linux/in6.h, linux/tcp.h, linux/udp.h. */
    private static final List<Option> OPTIONS = List.of(
        new Option("SO_TYPE", SOL_SOCKET, 3, 4),
        new Option("SO_PROTOCOL", SOL_SOCKET, 38, 4),
        new Option("SO_REUSEADDR", SOL_SOCKET, 2, 4),
        new Option("SO_REUSEPORT", SOL_SOCKET, 15, 4),
        new Option("SO_KEEPALIVE", SOL_SOCKET, 9, 4),
        new Option("SO_BROADCAST", SOL_SOCKET, 6, 4),
        new Option("SO_LINGER", SOL_SOCKET, 13, 8),
        new Option("SO_OOBINLINE", SOL_SOCKET, 10, 4),
        new Option("SO_PRIORITY", SOL_SOCKET, 12, 4),
        new Option("SO_RCVLOWAT", SOL_SOCKET, 18, 4),
        new Option("SO_RCVTIMEO", SOL_SOCKET, 20, 16),
        new Option("SO_SNDTIMEO", SOL_SOCKET, 21, 16),
        new Option("SO_PASSCRED", SOL_SOCKET, 16, 4),
        new Option("SO_PASSSEC", SOL_SOCKET, 34, 4),
        new Option("SO_DONTROUTE", SOL_SOCKET, 5, 4),
        new Option("SO_NO_CHECK", SOL_SOCKET, 11, 4),
        new Option("SO_BUF_LOCK", SOL_SOCKET, 72, 4),
        new Option("SO_ACCEPTCONN", SOL_SOCKET, 30, 4),
        new Option("SO_TIMESTAMP", SOL_SOCKET, 29, 4),
        new Option("SO_MARK", SOL_SOCKET, 36, 4),
        new Option("SO_PEEK_OFF", SOL_SOCKET, 42, 4),
        new Option("SO_BINDTODEVICE", SOL_SOCKET, 25, 16),
        new Option("SO_ZEROCOPY", SOL_SOCKET, 60, 4),
        new Option("IP_TOS", IP, 1, 4),
        new Option("IP_TTL", IP, 2, 4),
        new Option("IP_RECVERR", IP, 11, 4),
        new Option("IP_MTU_DISCOVER", IP, 10, 4),
        new Option("IP_PKTINFO", IP, 8, 4),
        new Option("IP_FREEBIND", IP, 15, 4),
        new Option("IP_TRANSPARENT", IP, 19, 4),
        new Option("IP_BIND_ADDRESS_NO_PORT", IP, 24, 4),
        new Option("IPV6_V6ONLY", IPV6, 26, 4),
        new Option("IPV6_UNICAST_HOPS", IPV6, 16, 4),
        new Option("IPV6_TCLASS", IPV6, 67, 4),
        new Option("IPV6_RECVPKTINFO", IPV6, 49, 4),
        new Option("IPV6_FREEBIND", IPV6, 78, 4),
        new Option("TCP_NODELAY", TCP, 1, 4),
        new Option("TCP_CORK", TCP, 3, 4),
        new Option("TCP_KEEPIDLE", TCP, 4, 4),
        new Option("TCP_KEEPINTVL", TCP, 5, 4),
        new Option("TCP_KEEPCNT", TCP, 6, 4),
        new Option("TCP_SYNCNT", TCP, 7, 4),
        new Option("TCP_LINGER2", TCP, 8, 4),
        new Option("TCP_DEFER_ACCEPT", TCP, 9, 4),
        new Option("TCP_WINDOW_CLAMP", TCP, 10, 4),
        new Option("TCP_CONGESTION", TCP, 13, 16),
        new Option("TCP_USER_TIMEOUT", TCP, 18, 4),
        new Option("TCP_NOTSENT_LOWAT", TCP, 25, 4),
        new Option("TCP_FASTOPEN", TCP, 23, 4),
        new Option("TCP_THIN_LINEAR_TIMEOUTS", TCP, 16, 4),
        new Option("TCP_REPAIR", TCP, 19, 4),
        new Option("UDP_CORK", UDP, 1, 4),
        new Option("UDP_SEGMENT", UDP, 103, 2),
        new Option("UDP_GRO", UDP, 104, 4));
    private static final int POLL_ALL = 0x1 | 0x2 | 0x4 | 0x2000; // POLLIN | POLLPRI | POLLOUT | POLLRDHUP

    private SocketOptions() {
    }

    /** The options of descriptor {@code fd} of the process behind {@code pidfd}; null if it is gone. */
    static String of(int pidfd, int fd) {
        int local;
        try {
            local = Linux.pidfdGetfd(pidfd, fd);
        } catch (SyscallException e) {
            return null;
        }
        try {
            int family = Sockets.getInt(local, SOL_SOCKET, Linux.SO_DOMAIN);
            int type = Sockets.getInt(local, SOL_SOCKET, Linux.SO_TYPE);
            boolean tcpConnection = (family == Sockets.AF_INET || family == Sockets.AF_INET6) && type == Linux.SOCK_STREAM
                && Sockets.getInt(local, SOL_SOCKET, 30) == 0;
            StringBuilder out = new StringBuilder("family=" + family);
            for (Option o : OPTIONS) {
                out.append(' ').append(o.name()).append('=').append(value(local, o));
            }
            if (!tcpConnection) {
                out.append(" SO_SNDBUF=").append(value(local, new Option("SO_SNDBUF", SOL_SOCKET, Sockets.SO_SNDBUF, 4)));
                out.append(" SO_RCVBUF=").append(value(local, new Option("SO_RCVBUF", SOL_SOCKET, Sockets.SO_RCVBUF, 4)));
            }
            out.append(" poll=").append(Integer.toHexString(Sockets.poll(local, POLL_ALL)));
            return out.toString();
        } finally {
            Linux.close(local);
        }
    }

    private static String value(int fd, Option o) {
        try {
            byte[] v = Sockets.getsockopt(fd, o.level(), o.option(), o.length());
            if (o.length() == 4 && v.length == 4) {
                return Integer.toString((v[0] & 0xff) | (v[1] & 0xff) << 8 | (v[2] & 0xff) << 16 | (v[3] & 0xff) << 24);
            }
            return HexFormat.of().formatHex(v);
        } catch (SyscallException e) {
            return "errno " + e.errno();
        }
    }
}
