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
}
