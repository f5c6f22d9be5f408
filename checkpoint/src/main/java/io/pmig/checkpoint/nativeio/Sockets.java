package io.pmig.checkpoint.nativeio;

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
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_KEEPALIVE = 9;
    public static final int SO_REUSEPORT = 15;
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

    /** "10.0.0.1:80" or "[::1]:80" for messages. */
    public static String describe(byte[] sockaddr) {
        if (sockaddr.length < 4) {
            return "?";
        }
        int family = (sockaddr[0] & 0xff) | (sockaddr[1] & 0xff) << 8;
        int port = (sockaddr[2] & 0xff) << 8 | (sockaddr[3] & 0xff);
        try {
            if (family == AF_INET && sockaddr.length >= 8) {
                return java.net.InetAddress.getByAddress(java.util.Arrays.copyOfRange(sockaddr, 4, 8)).getHostAddress() + ":" + port;
            }
            if (family == AF_INET6 && sockaddr.length >= 24) {
                return "[" + java.net.InetAddress.getByAddress(java.util.Arrays.copyOfRange(sockaddr, 8, 24)).getHostAddress() + "]:" + port;
            }
        } catch (java.net.UnknownHostException e) {
            return "?";
        }
        return "family " + family;
    }

    // ---- UDP and raw sockets, datagram I/O: linux/udp.h, linux/in.h, linux/in6.h, asm-generic/socket.h,
    // linux/sock_diag.h (SK_MEMINFO_*), asm-generic/poll.h, asm-generic/errno.h, asm/unistd_64.h ----
    public static final int IPPROTO_IP = 0;
    public static final int IPPROTO_UDP = 17;
    public static final int IPPROTO_RAW = 255;
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
    public static final int POLLIN = 0x1;
    public static final int POLLERR = 0x8;
    /** errno values of socket calls that callers tell apart (not in {@link Errno}'s list). */
    public static final int EADDRINUSE = 98;
    public static final int EADDRNOTAVAIL = 99;
    public static final int ENOTCONN = 107;
    private static final int NR_POLL = 7;
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
        long iov = h.address() + MSGHDR_SIZE;
        long name = iov + 16;
        h.putLong(0, name);                     // msg_name
        h.putInt(8, SOCKADDR_MAX);              // msg_namelen
        h.putLong(16, iov);                     // msg_iov
        h.putLong(24, 1);                       // msg_iovlen
        h.putLong(MSGHDR_SIZE, buffer.address()); // iov_base
        h.putLong(MSGHDR_SIZE + 8, buffer.size());  // iov_len
        long n = Syscall.tryCall(NR_RECVMSG, fd, h.address(), flags);
        if (n == -Errno.EAGAIN) {
            return null;
        }
        if (n < 0) {
            throw new SyscallException("recvmsg(" + fd + ")", (int) -n);
        }
        return new Message(h.bytes(MSGHDR_SIZE + 16, h.getInt(8)), buffer.bytes(0, (int) n), h.getInt(48));
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
        NativeMemory m = NativeMemory.allocate(8);
        m.putInt(0, fd);
        m.putInt(4, events & 0xffff);           // events (short); revents (short) = 0
        Syscall.call("poll(" + fd + ")", NR_POLL, m.address(), 1, 0);
        return m.getInt(4) >>> 16;
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
}
