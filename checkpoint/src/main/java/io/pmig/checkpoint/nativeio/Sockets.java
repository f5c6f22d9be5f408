package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

/**
 * Typed socket calls and the constants of linux/socket.h, linux/in.h, linux/in6.h, linux/tcp.h
 * and linux/sockios.h that the engine uses. Socket addresses travel as raw sockaddr bytes.
 */
public final class Sockets {
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_IPV6 = 41;
    public static final int SO_REUSEADDR = 2;
    public static final int SO_ERROR = 4;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_KEEPALIVE = 9;
    public static final int SO_REUSEPORT = 15;
    /** The ephemeral ports this socket's connect may pick: low port in the lower 16 bits, high in the upper (Linux 6.3+). */
    public static final int IP_LOCAL_PORT_RANGE = 51;
    public static final int IPV6_V6ONLY = 26;
    public static final int TCP_NODELAY = 1;
    public static final int TCP_MAXSEG = 2;
    public static final int TCP_KEEPIDLE = 4;
    public static final int TCP_KEEPINTVL = 5;
    public static final int TCP_KEEPCNT = 6;
    public static final int TCP_INFO = 11;
    public static final int TCP_REPAIR = 19;
    public static final int TCP_REPAIR_QUEUE = 20;
    public static final int TCP_QUEUE_SEQ = 21;
    public static final int TCP_REPAIR_OPTIONS = 22;
    public static final int TCP_TIMESTAMP = 24;
    /** The lowest bit of a TCP_TIMESTAMP value: the connection stamps in microseconds (net/ipv4/tcp.c, Linux 6.7+). */
    public static final int TCP_TIMESTAMP_MICROSECONDS = 1;
    public static final int TCP_REPAIR_WINDOW = 29;
    public static final int TCP_RECV_QUEUE = 1;
    public static final int TCP_SEND_QUEUE = 2;
    public static final long SIOCINQ = 0x541B;
    public static final long SIOCOUTQ = 0x5411;
    public static final long SIOCOUTQNSD = 0x894B;
    private static final int SOCKADDR_MAX = 128;

    private Sockets() {
    }

    public static int socket(int family, int type) {
        return (int) Syscall.call("socket(" + family + ", " + type + ")", Nr.SOCKET, family, type, 0);
    }

    public static byte[] getsockopt(int fd, int level, int name, int length) {
        NativeMemory m = NativeMemory.allocate(length + 8L);
        m.putInt(length, length);
        Syscall.call("getsockopt(" + fd + ", " + level + ", " + name + ")", Nr.GETSOCKOPT, fd, level, name, m.address(), m.address() + length);
        return m.bytes(0, m.getInt(length));
    }

    public static void setsockopt(int fd, int level, int name, byte[] value) {
        NativeMemory m = NativeMemory.allocate(Math.max(1, value.length));
        m.put(0, value);
        Syscall.call("setsockopt(" + fd + ", " + level + ", " + name + ")", Nr.SETSOCKOPT, fd, level, name, m.address(), value.length);
    }

    public static int getInt(int fd, int level, int name) {
        return Linux.getsockoptInt(fd, level, name);
    }

    public static void setInt(int fd, int level, int name, int value) {
        Linux.setsockoptInt(fd, level, name, value);
    }

    public static byte[] localAddress(int fd) {
        return address("getsockname", Nr.GETSOCKNAME, fd);
    }

    public static byte[] peerAddress(int fd) {
        return address("getpeername", Nr.GETPEERNAME, fd);
    }

    private static byte[] address(String what, int nr, int fd) {
        NativeMemory m = NativeMemory.allocate(SOCKADDR_MAX + 4);
        m.putInt(SOCKADDR_MAX, SOCKADDR_MAX);
        Syscall.call(what + "(" + fd + ")", nr, fd, m.address(), m.address() + SOCKADDR_MAX);
        return m.bytes(0, m.getInt(SOCKADDR_MAX));
    }

    public static void bind(int fd, byte[] sockaddr) {
        withAddress("bind", Nr.BIND, fd, sockaddr);
    }

    public static void connect(int fd, byte[] sockaddr) {
        withAddress("connect", Nr.CONNECT, fd, sockaddr);
    }

    private static void withAddress(String what, int nr, int fd, byte[] sockaddr) {
        NativeMemory m = NativeMemory.allocate(sockaddr.length);
        m.put(0, sockaddr);
        Syscall.call(what + "(" + fd + ", " + describe(sockaddr) + ")", nr, fd, m.address(), sockaddr.length);
    }

    public static void listen(int fd, int backlog) {
        Syscall.call("listen(" + fd + ")", Nr.LISTEN, fd, backlog);
    }

    /** An ioctl that reports a count (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD). */
    public static int ioctlCount(int fd, long request) {
        NativeMemory m = NativeMemory.allocate(4);
        Syscall.call("ioctl(" + fd + ", 0x" + Long.toHexString(request) + ")", Nr.IOCTL, fd, request, m.address());
        return m.getInt(0);
    }

    /** A struct sockaddr_in or sockaddr_in6 (linux/in.h, linux/in6.h) as Java sees it; null for another family. */
    public static java.net.InetSocketAddress socketAddress(byte[] sockaddr) {
        if (sockaddr == null || sockaddr.length < 4) {
            return null;
        }
        int family = (sockaddr[0] & 0xff) | (sockaddr[1] & 0xff) << 8;
        int port = (sockaddr[2] & 0xff) << 8 | (sockaddr[3] & 0xff);
        try {
            if (family == AF_INET && sockaddr.length >= 8) {
                return new java.net.InetSocketAddress(java.net.InetAddress.getByAddress(java.util.Arrays.copyOfRange(sockaddr, 4, 8)), port);
            }
            if (family == AF_INET6 && sockaddr.length >= 24) {
                return new java.net.InetSocketAddress(java.net.InetAddress.getByAddress(java.util.Arrays.copyOfRange(sockaddr, 8, 24)), port);
            }
        } catch (java.net.UnknownHostException e) {
            return null; // cannot happen for 4 or 16 bytes
        }
        return null;
    }

    /** "10.0.0.1:80" or "[::1]:80" for messages. */
    public static String describe(byte[] sockaddr) {
        java.net.InetSocketAddress a = socketAddress(sockaddr);
        if (a != null) {
            String host = a.getAddress().getHostAddress();
            return (a.getAddress() instanceof java.net.Inet6Address ? "[" + host + "]" : host) + ":" + a.getPort();
        }
        if (sockaddr.length < 4) {
            return "?";
        }
        return "family " + ((sockaddr[0] & 0xff) | (sockaddr[1] & 0xff) << 8);
    }

    // ---- UDP and raw sockets, datagram I/O: linux/udp.h, linux/in.h, linux/in6.h, asm-generic/socket.h,
    // linux/sock_diag.h (SK_MEMINFO_*), asm-generic/poll.h, asm-generic/errno.h, asm/unistd_64.h ----
    public static final int IPPROTO_IP = 0;
    public static final int IPPROTO_UDP = 17;
    public static final int IPPROTO_RAW = 255;
    public static final int IPPROTO_ICMPV6 = 58;
    public static final int SOL_RAW = 255;
    public static final int SOL_UDP = 17;
    public static final int SOCK_RAW = 3;
    public static final int SO_BROADCAST = 6;
    public static final int SO_BINDTODEVICE = 25;
    public static final int SO_SNDBUFFORCE = 32;
    public static final int SO_RCVBUFFORCE = 33;
    public static final int SO_PROTOCOL = 38;
    public static final int SO_MEMINFO = 55;
    public static final int SK_MEMINFO_RMEM_ALLOC = 0;
    public static final int SK_MEMINFO_OPTMEM = 6;
    public static final int SK_MEMINFO_DROPS = 8;
    private static final int SK_MEMINFO_VARS = 9;
    public static final int IP_TRANSPARENT = 19;
    public static final int IPV6_TRANSPARENT = 75;
    public static final int UDP_CORK = 1;
    public static final int UDP_ENCAP = 100;
    public static final int UDP_GRO = 104;
    public static final int MSG_TRUNC = 0x20;
    public static final int POLLIN = Linux.POLLIN;
    public static final int POLLERR = 0x8;
    /** errno values of socket calls that callers tell apart (not in {@link Errno}'s list). */
    public static final int EADDRINUSE = 98;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ENOTCONN = 107;
    private static final int NR_RECVMSG = 47;
    private static final int MSGHDR_SIZE = 56;

    /** One datagram read by {@link #recvmsg}: its source sockaddr, its bytes, and the msg_flags the kernel set. */
    public record Message(byte[] source, byte[] data, int flags) {
    }

    public static int socket(int family, int type, int protocol) {
        return (int) Syscall.call("socket(" + family + ", " + type + ", " + protocol + ")", Nr.SOCKET, family, type, protocol);
    }

    /** bind(2) that reports failure as errno (0 on success) instead of throwing, for callers with a fallback. */
    public static int tryBind(int fd, byte[] sockaddr) {
        NativeMemory m = NativeMemory.allocate(sockaddr.length);
        m.put(0, sockaddr);
        long r = Syscall.tryCall(Nr.BIND, fd, m.address(), sockaddr.length);
        return r < 0 ? (int) -r : 0;
    }

    /** connect(2) that reports failure as errno (0 on success) instead of throwing. */
    public static int tryConnect(int fd, byte[] sockaddr) {
        NativeMemory m = NativeMemory.allocate(sockaddr.length);
        m.put(0, sockaddr);
        long r = Syscall.tryCall(Nr.CONNECT, fd, m.address(), sockaddr.length);
        return r < 0 ? (int) -r : 0;
    }

    /** Dissolves a datagram socket's association: connect(2) to an AF_UNSPEC address. */
    public static void disconnect(int fd) {
        NativeMemory m = NativeMemory.allocate(16);
        Syscall.call("connect(" + fd + ", AF_UNSPEC)", Nr.CONNECT, fd, m.address(), 16);
    }

    /** The peer address, or null if the socket is not connected (ENOTCONN). */
    public static byte[] peerAddressIfConnected(int fd) {
        try {
            return peerAddress(fd);
        } catch (SyscallException e) {
            if (e.errno() == ENOTCONN) {
                return null;
            }
            throw e;
        }
    }

    /**
     * recvmsg(2) of one datagram into {@code buffer} (its whole size is offered), with the source
     * address; returns null when nothing is queued (EAGAIN), throws on any other error.
     */
    public static Message recvmsg(int fd, NativeMemory buffer, int flags) {
        NativeMemory h = NativeMemory.allocate(MSGHDR_SIZE + 16 + SOCKADDR_MAX);
        long n = recvmsgInto(fd, h, buffer, 0, flags);
        if (n < 0) {
            return null;
        }
        return new Message(h.bytes(MSGHDR_SIZE + 16, h.getInt(8)), buffer.bytes(0, (int) n), h.getInt(48));
    }

    /**
     * Fills a struct msghdr in {@code h} (the source address after one iovec over {@code buffer},
     * then {@code controlLength} bytes of control data) and calls recvmsg(2). Returns the byte count,
     * or -1 when nothing is queued (EAGAIN); throws on any other error.
     */
    private static long recvmsgInto(int fd, NativeMemory h, NativeMemory buffer, int controlLength, int flags) {
        long iov = h.address() + MSGHDR_SIZE;
        long name = iov + 16;
        h.putLong(0, name);                         // msg_name
        h.putInt(8, SOCKADDR_MAX);                  // msg_namelen
        h.putLong(16, iov);                         // msg_iov
        h.putLong(24, 1);                           // msg_iovlen
        if (controlLength > 0) {
            h.putLong(32, name + SOCKADDR_MAX);     // msg_control
            h.putLong(40, controlLength);           // msg_controllen
        }
        h.putLong(MSGHDR_SIZE, buffer.address());   // iov_base
        h.putLong(MSGHDR_SIZE + 8, buffer.size());  // iov_len
        long n = Syscall.tryCall(NR_RECVMSG, fd, h.address(), flags);
        if (n == -Errno.EAGAIN) {
            return -1;
        }
        if (n < 0) {
            throw new SyscallException("recvmsg(" + fd + ")", (int) -n);
        }
        return n;
    }

    /** Sends {@code data} as one datagram to {@code sockaddr}. */
    public static void sendto(int fd, byte[] data, byte[] sockaddr) {
        NativeMemory d = NativeMemory.allocate(Math.max(1, data.length));
        d.put(0, data);
        NativeMemory a = NativeMemory.allocate(sockaddr.length);
        a.put(0, sockaddr);
        long n = Syscall.call("sendto(" + fd + ", " + describe(sockaddr) + ")", Nr.SENDTO, fd, d.address(), data.length, 0,
            a.address(), sockaddr.length);
        if (n != data.length) {
            throw new IllegalStateException("sendto(" + fd + ") sent " + n + " of " + data.length + " bytes");
        }
    }

    /** The events of {@code events} (and POLLERR/POLLHUP) that are ready on {@code fd} now; never waits. */
    public static int poll(int fd, int events) {
        return Linux.poll(fd, events, 0);
    }

    /** SO_MEMINFO: the socket's memory counters, indexed by SK_MEMINFO_*. */
    public static int[] meminfo(int fd) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(getsockopt(fd, Linux.SOL_SOCKET, SO_MEMINFO, 4 * SK_MEMINFO_VARS))
            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[SK_MEMINFO_VARS];
        for (int i = 0; i < out.length && 4 * i + 4 <= b.limit(); i++) {
            out[i] = b.getInt(4 * i);
        }
        return out;
    }

    // ---- socket filters: asm-generic/socket.h (SO_ATTACH_FILTER, which getsockopt reads as SO_GET_FILTER;
    // SO_LOCK_FILTER), linux/filter.h (struct sock_filter: 8 bytes; struct sock_fprog: u16 len, a pointer at 8) ----
    public static final int SO_ATTACH_FILTER = 26;
    public static final int SO_LOCK_FILTER = 44;
    private static final int SOCK_FILTER_BYTES = 8;
    private static final int SOCK_FPROG_BYTES = 16;

    /**
     * The classic BPF program attached to {@code fd}, its instructions as the process gave them, or an empty array;
     * EACCES for one attached as an eBPF program (SO_ATTACH_BPF), which has no classic form. The option's length
     * counts instructions, not bytes (net/core/filter.c sk_get_filter).
     */
    public static byte[] socketFilter(int fd) {
        NativeMemory length = NativeMemory.allocate(4);
        Syscall.call("getsockopt(" + fd + ", SO_GET_FILTER)", Nr.GETSOCKOPT, fd, Linux.SOL_SOCKET, SO_ATTACH_FILTER, 0, length.address());
        int instructions = length.getInt(0);
        if (instructions == 0) {
            return new byte[0];
        }
        NativeMemory program = NativeMemory.allocate((long) instructions * SOCK_FILTER_BYTES);
        Syscall.call("getsockopt(" + fd + ", SO_GET_FILTER)", Nr.GETSOCKOPT, fd, Linux.SOL_SOCKET, SO_ATTACH_FILTER, program.address(),
            length.address());
        return program.bytes(0, length.getInt(0) * SOCK_FILTER_BYTES);
    }

    /** SO_ATTACH_FILTER of a classic BPF {@code program} (from {@link #socketFilter}). */
    public static void attachFilter(int fd, byte[] program) {
        NativeMemory code = NativeMemory.allocate(program.length);
        code.put(0, program);
        NativeMemory fprog = NativeMemory.allocate(SOCK_FPROG_BYTES);
        fprog.putInt(0, program.length / SOCK_FILTER_BYTES);
        fprog.putLong(8, code.address());
        Syscall.call("setsockopt(" + fd + ", SO_ATTACH_FILTER)", Nr.SETSOCKOPT, fd, Linux.SOL_SOCKET, SO_ATTACH_FILTER, fprog.address(),
            SOCK_FPROG_BYTES);
        java.lang.ref.Reference.reachabilityFence(code);
    }

    // ---- Unix domain sockets: linux/un.h, linux/unix_diag.h, linux/sock_diag.h, linux/netlink.h, linux/net.h
    // (SHUT_*), include/net/sock.h (sk_shutdown bits), include/net/tcp_states.h (sk_state), asm-generic/socket.h,
    // linux/socket.h, asm-generic/errno.h, asm/unistd_64.h ----
    public static final int SO_PASSCRED = 16;
    public static final int SO_PASSSEC = 34;
    public static final int SO_PEERCRED = 17;
    public static final int SCM_RIGHTS = 1;
    public static final int SCM_CREDENTIALS = 2;
    public static final int MSG_CTRUNC = 0x8;
    public static final int MSG_NOSIGNAL = 0x4000;
    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;
    public static final int RCV_SHUTDOWN = 1;
    public static final int SEND_SHUTDOWN = 2;
    /** sk_state of a Unix socket: connected (or a datagram socket with a peer), unconnected, listening. */
    public static final int UNIX_ESTABLISHED = 1;
    public static final int UNIX_CLOSE = 7;
    public static final int UNIX_LISTEN = 10;
    public static final int EPROTOTYPE = 91;
    public static final int ECONNREFUSED = 111;
    public static final int UDIAG_SHOW_NAME = 0x01;
    public static final int UDIAG_SHOW_VFS = 0x02;
    public static final int UDIAG_SHOW_PEER = 0x04;
    public static final int UDIAG_SHOW_ICONS = 0x08;
    public static final int UDIAG_SHOW_RQLEN = 0x10;
    public static final int UNIX_DIAG_NAME = 0;
    public static final int UNIX_DIAG_VFS = 1;
    public static final int UNIX_DIAG_PEER = 2;
    public static final int UNIX_DIAG_ICONS = 3;
    public static final int UNIX_DIAG_RQLEN = 4;
    public static final int UNIX_DIAG_SHUTDOWN = 6;
    private static final int NR_SENDMSG = 46;
    private static final int NR_ACCEPT4 = 288;
    private static final int UNIX_PATH_MAX = 108;
    private static final int AF_NETLINK = 16;
    private static final int NETLINK_SOCK_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20;
    private static final int NLM_F_REQUEST = 1;
    private static final int NLMSG_ERROR = 2;
    /** CMSG_SPACE(sizeof(struct ucred)) and CMSG_LEN of it: a 16-byte cmsghdr, then pid, uid, gid. */
    private static final int UCRED_SPACE = 32;
    private static final int UCRED_LEN = 28;
    /** Control room offered to recvmsg on a Unix socket: credentials and a few descriptors (which are closed at once). */
    private static final int UNIX_CONTROL = 128;

    /** struct ucred: who sent a message on a Unix socket, or who is at the other end of a connection. */
    public record Credentials(int pid, int uid, int gid) {
    }

    /**
     * One message read by {@link #recvUnix}: its bytes, its full length (beyond the buffer when
     * truncated, for datagrams with MSG_TRUNC), the sender's sockaddr (empty for an unnamed sender),
     * msg_flags, the sender's credentials (null unless the socket has SO_PASSCRED), and how many
     * descriptors came with it (SCM_RIGHTS; this process got them and they are closed already).
     */
    public record UnixMessage(byte[] data, long length, byte[] source, int flags, Credentials credentials, int descriptors) {
    }

    /** One Unix socket as sock_diag reports it: the unix_diag_msg header and its UNIX_DIAG_* attributes by type. */
    public record UnixDiag(int type, int state, long inode, java.util.Map<Integer, byte[]> attributes) {
        /** The UNIX_DIAG_NAME bytes (sun_path as bound, a leading NUL for an abstract name), or null when unnamed. */
        public byte[] name() {
            byte[] n = attributes.get(UNIX_DIAG_NAME);
            return n == null || n.length == 0 ? null : n;
        }

        /** The peer's inode; 0 when there is none or it is gone. */
        public long peer() {
            byte[] p = attributes.get(UNIX_DIAG_PEER);
            return p == null ? 0 : intAt(p, 0) & 0xffffffffL;
        }

        /** Whether the socket holds a filesystem binding of its own (UNIX_DIAG_VFS), not a name taken from a listener. */
        public boolean boundInFilesystem() {
            return attributes.containsKey(UNIX_DIAG_VFS);
        }

        /** The inode of the socket file it bound (UNIX_DIAG_VFS), or 0. */
        public long fileInode() {
            byte[] v = attributes.get(UNIX_DIAG_VFS);
            return v == null ? 0 : intAt(v, 0) & 0xffffffffL;
        }

        /** {queued, limit}: for a listener, connections waiting to be accepted and the backlog; else bytes in and out. */
        public long[] queues() {
            byte[] q = attributes.get(UNIX_DIAG_RQLEN);
            return q == null ? new long[] {0, 0} : new long[] {intAt(q, 0) & 0xffffffffL, intAt(q, 4) & 0xffffffffL};
        }

        /** The inodes of the client sockets of a listener's pending connections (UNIX_DIAG_ICONS). */
        public long[] pendingClients() {
            byte[] c = attributes.get(UNIX_DIAG_ICONS);
            long[] out = new long[c == null ? 0 : c.length / 4];
            for (int i = 0; i < out.length; i++) {
                out[i] = intAt(c, 4 * i) & 0xffffffffL;
            }
            return out;
        }

        /** sk_shutdown: RCV_SHUTDOWN and SEND_SHUTDOWN bits. */
        public int shutdown() {
            byte[] s = attributes.get(UNIX_DIAG_SHUTDOWN);
            return s == null || s.length == 0 ? 0 : s[0] & 0xff;
        }

        private static int intAt(byte[] b, int at) {
            return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | (b[at + 3] & 0xff) << 24;
        }
    }

    /** A sockaddr_un for {@code sunPath} (a leading NUL for an abstract name), exactly as long as the name. */
    public static byte[] unixAddress(byte[] sunPath) {
        if (sunPath.length > UNIX_PATH_MAX) {
            throw new IllegalArgumentException("Unix socket name of " + sunPath.length + " bytes, more than " + UNIX_PATH_MAX);
        }
        byte[] out = new byte[2 + sunPath.length];
        out[0] = (byte) Linux.AF_UNIX;
        System.arraycopy(sunPath, 0, out, 2, sunPath.length);
        return out;
    }

    /** The sun_path bytes of a sockaddr_un as the kernel returns it (a path's trailing NUL dropped); empty when unnamed. */
    public static byte[] unixPath(byte[] sockaddr) {
        int end = sockaddr.length;
        if (end > 2 && sockaddr[2] != 0) {
            while (end > 2 && sockaddr[end - 1] == 0) {
                end--;
            }
        }
        return end <= 2 ? new byte[0] : java.util.Arrays.copyOfRange(sockaddr, 2, end);
    }

    /** accept4(2). */
    public static int accept(int fd, int flags) {
        return (int) Syscall.call("accept4(" + fd + ")", NR_ACCEPT4, fd, 0, 0, flags);
    }

    /** Whether {@code fd} is an IPv4 or IPv6 socket of {@code type} and {@code protocol} (TCP stream, UDP datagram). */
    public static boolean isInet(int fd, int type, int protocol) {
        int domain = getInt(fd, Linux.SOL_SOCKET, Linux.SO_DOMAIN);
        return (domain == AF_INET || domain == AF_INET6)
            && getInt(fd, Linux.SOL_SOCKET, Linux.SO_TYPE) == type
            && getInt(fd, Linux.SOL_SOCKET, SO_PROTOCOL) == protocol;
    }

    /** Whether this host has the address of {@code sockaddr} (its port aside), so a socket can bind to it. */
    public static boolean addressIsLocal(byte[] sockaddr) {
        byte[] anyPort = sockaddr.clone();
        anyPort[2] = 0;
        anyPort[3] = 0;
        int family = (sockaddr[0] & 0xff) | (sockaddr[1] & 0xff) << 8;
        int probe = socket(family, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC);
        try {
            return tryBind(probe, anyPort) != EADDRNOTAVAIL;
        } finally {
            Linux.close(probe);
        }
    }

    public static void shutdown(int fd, int how) {
        Syscall.call("shutdown(" + fd + ", " + how + ")", Nr.SHUTDOWN, fd, how);
    }

    /** SO_PEERCRED: who connected (or created the pair), as the kernel recorded it then. */
    public static Credentials peerCredentials(int fd) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(getsockopt(fd, Linux.SOL_SOCKET, SO_PEERCRED, 12)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return new Credentials(b.getInt(0), b.getInt(4), b.getInt(8));
    }

    /**
     * recvmsg(2) on a Unix socket into {@code buffer} (its whole size is offered), with the sender's
     * address and credentials; returns null when nothing is queued (EAGAIN), throws on any other error.
     */
    public static UnixMessage recvUnix(int fd, NativeMemory buffer, int flags) {
        NativeMemory h = NativeMemory.allocate(MSGHDR_SIZE + 16 + SOCKADDR_MAX + UNIX_CONTROL);
        long n = recvmsgInto(fd, h, buffer, UNIX_CONTROL, flags);
        if (n < 0) {
            return null;
        }
        Credentials credentials = null;
        int descriptors = 0;
        long controlLength = h.getLong(40);
        long at = 0;
        while (at + 16 <= controlLength) {
            long base = MSGHDR_SIZE + 16 + SOCKADDR_MAX + at;
            long length = h.getLong(base);              // cmsg_len
            int level = h.getInt(base + 8);
            int type = h.getInt(base + 12);
            if (length < 16 || at + length > controlLength) {
                break;
            }
            if (level == Linux.SOL_SOCKET && type == SCM_CREDENTIALS && length >= UCRED_LEN) {
                credentials = new Credentials(h.getInt(base + 16), h.getInt(base + 20), h.getInt(base + 24));
            } else if (level == Linux.SOL_SOCKET && type == SCM_RIGHTS) {
                for (long i = 16; i + 4 <= length; i += 4) {
                    Linux.close(h.getInt(base + i));
                    descriptors++;
                }
            }
            at += (length + 7) & ~7L;
        }
        int copied = (int) Math.min(n, buffer.size());
        return new UnixMessage(buffer.bytes(0, copied), n, h.bytes(MSGHDR_SIZE + 16, h.getInt(8)), h.getInt(48), credentials, descriptors);
    }

    /**
     * sendmsg(2) of {@code data} on a Unix socket, to {@code sockaddr} (null: to the peer), with
     * SCM_CREDENTIALS when {@code credentials} is not null (another pid, uid or gid than the
     * caller's needs CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID). Returns the bytes sent or -errno.
     */
    public static long trySendUnix(int fd, byte[] data, byte[] sockaddr, Credentials credentials, int flags) {
        NativeMemory h = NativeMemory.allocate(MSGHDR_SIZE + 16 + SOCKADDR_MAX + UCRED_SPACE + Math.max(1, data.length));
        long iov = h.address() + MSGHDR_SIZE;
        long name = iov + 16;
        long control = name + SOCKADDR_MAX;
        long payload = control + UCRED_SPACE;
        h.put(payload - h.address(), data);
        if (sockaddr != null) {
            h.put(name - h.address(), sockaddr);
            h.putLong(0, name);
            h.putInt(8, sockaddr.length);
        }
        h.putLong(16, iov);
        h.putLong(24, 1);
        if (credentials != null) {
            long c = control - h.address();
            h.putLong(c, UCRED_LEN);
            h.putInt(c + 8, Linux.SOL_SOCKET);
            h.putInt(c + 12, SCM_CREDENTIALS);
            h.putInt(c + 16, credentials.pid());
            h.putInt(c + 20, credentials.uid());
            h.putInt(c + 24, credentials.gid());
            h.putLong(32, control);
            h.putLong(40, UCRED_SPACE);
        }
        h.putLong(MSGHDR_SIZE, payload);
        h.putLong(MSGHDR_SIZE + 8, data.length);
        return Syscall.tryCall(NR_SENDMSG, fd, h.address(), flags);
    }

    /**
     * sock_diag of the Unix socket with inode {@code inode} in this network namespace, with the
     * UDIAG_SHOW_* attributes of {@code show}; null when there is no such socket.
     */
    public static UnixDiag unixDiag(long inode, int show) {
        int sock = socket(AF_NETLINK, Linux.SOCK_DGRAM | Linux.SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        try {
            NativeMemory req = NativeMemory.allocate(40);
            req.putInt(0, 40);                                   // nlmsg_len
            req.putInt(4, SOCK_DIAG_BY_FAMILY | (NLM_F_REQUEST << 16)); // nlmsg_type, nlmsg_flags
            req.putInt(8, 1);                                    // nlmsg_seq
            req.putInt(16, Linux.AF_UNIX);                       // sdiag_family, sdiag_protocol, pad
            req.putInt(20, -1);                                  // udiag_states
            req.putInt(24, (int) inode);                         // udiag_ino
            req.putInt(28, show);                                // udiag_show
            req.putLong(32, -1L);                                // udiag_cookie: any
            Syscall.call("send sock_diag request for Unix socket " + inode, Nr.SENDTO, sock, req.address(), 40, 0, 0, 0);
            NativeMemory buf = NativeMemory.allocate(1 << 16);
            long n = Syscall.call("recv sock_diag", Nr.RECVFROM, sock, buf.address(), buf.size(), 0, 0, 0);
            if (n < 16) {
                throw new IllegalStateException("sock_diag answered " + n + " bytes for Unix socket " + inode);
            }
            int length = (int) Math.min(n, buf.getInt(0));
            int type = buf.getInt(4) & 0xffff;
            if (type == NLMSG_ERROR) {
                int errno = -buf.getInt(16);
                if (errno == Errno.ENOENT) {
                    return null;
                }
                throw new SyscallException("sock_diag of Unix socket " + inode, errno);
            }
            // struct unix_diag_msg: family u8, type u8, state u8, pad u8, ino u32, cookie u32[2]; then attributes
            byte[] header = buf.bytes(16, 16);
            java.util.Map<Integer, byte[]> attributes = new java.util.HashMap<>();
            int at = 32;
            while (at + 4 <= length) {
                int rtaLength = buf.getInt(at) & 0xffff;
                int rtaType = buf.getInt(at) >>> 16;
                if (rtaLength < 4 || at + rtaLength > length) {
                    break;
                }
                attributes.put(rtaType, buf.bytes(at + 4, rtaLength - 4));
                at += (rtaLength + 3) & ~3;
            }
            return new UnixDiag(header[1] & 0xff, header[2] & 0xff, buf.getInt(20) & 0xffffffffL, attributes);
        } finally {
            Linux.close(sock);
        }
    }
}
