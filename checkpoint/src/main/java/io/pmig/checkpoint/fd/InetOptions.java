package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Sockets;
import io.pmig.nativeio.SyscallException;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The options of an IPv4/IPv6 socket that a process sets with setsockopt, beyond those a kind saves by
 * name (addresses, sharing, buffer sizes, v6-only): saved as getsockopt returns them where they differ from
 * a fresh socket of the same family and type on this host, and set again with those bytes, which setsockopt
 * takes back as they are (asm-generic/socket.h, linux/in.h, linux/in6.h, linux/tcp.h, linux/udp.h, linux/icmp.h, linux/icmpv6.h). An option a socket of
 * this kind does not have (ENOPROTOOPT, EOPNOTSUPP) is passed over.
 */
final class InetOptions {
    private record Option(String name, int level, int option, int length) {
    }

    private static final int SOL_SOCKET = Linux.SOL_SOCKET;
    private static final int IP = Sockets.IPPROTO_IP;
    private static final int IPV6 = Sockets.IPPROTO_IPV6;
    private static final int TCP = Sockets.IPPROTO_TCP;

    /** IP_FREEBIND, which IPV6_FREEBIND sets too. */
    private static final int FREEBIND = 15;
    /** SO_BUF_LOCK (Linux 5.14+): which buffer sizes the process fixed (SOCK_SNDBUF_LOCK 1, SOCK_RCVBUF_LOCK 2). */
    private static final String BUF_LOCK = "SO_BUF_LOCK";

    /** Set before bind: IP_FREEBIND and IP_TRANSPARENT decide whether a bind to an address the host lacks succeeds. */
    private static final List<Option> ALL = List.of(
        new Option("IP_FREEBIND", IP, FREEBIND, 4),
        new Option("IP_TRANSPARENT", IP, 19, 4),
        new Option("IPV6_FREEBIND", IPV6, 78, 4),
        new Option("IP_BIND_ADDRESS_NO_PORT", IP, 24, 4),
        new Option("SO_LINGER", SOL_SOCKET, 13, 8),
        new Option("SO_OOBINLINE", SOL_SOCKET, 10, 4),
        new Option("SO_PRIORITY", SOL_SOCKET, 12, 4),
        new Option("SO_RCVLOWAT", SOL_SOCKET, 18, 4),
        new Option("SO_RCVTIMEO", SOL_SOCKET, 20, 16),
        new Option("SO_SNDTIMEO", SOL_SOCKET, 21, 16),
        new Option("SO_TIMESTAMP", SOL_SOCKET, 29, 4),
        new Option("SO_MARK", SOL_SOCKET, 36, 4),
        new Option("SO_DONTROUTE", SOL_SOCKET, 5, 4),
        new Option("SO_NO_CHECK", SOL_SOCKET, 11, 4),
        new Option("SO_BINDTODEVICE", SOL_SOCKET, 25, 16),
        new Option("IP_TOS", IP, 1, 4),
        new Option("IP_TTL", IP, 2, 4),
        new Option("IP_PKTINFO", IP, 8, 4),
        new Option("IP_MTU_DISCOVER", IP, 10, 4),
        new Option("IP_RECVERR", IP, 11, 4),
        new Option("IP_RECVTTL", IP, 12, 4),
        new Option("IP_RECVTOS", IP, 13, 4),
        new Option("IPV6_UNICAST_HOPS", IPV6, 16, 4),
        new Option("IPV6_MTU_DISCOVER", IPV6, 23, 4),
        new Option("IPV6_RECVERR", IPV6, 25, 4),
        new Option("IPV6_RECVPKTINFO", IPV6, 49, 4),
        new Option("IPV6_TCLASS", IPV6, 67, 4),
        new Option("TCP_CORK", TCP, 3, 4),
        new Option("TCP_SYNCNT", TCP, 7, 4),
        new Option("TCP_LINGER2", TCP, 8, 4),
        new Option("TCP_DEFER_ACCEPT", TCP, 9, 4),
        new Option("TCP_WINDOW_CLAMP", TCP, 10, 4),
        new Option("TCP_CONGESTION", TCP, 13, 16),
        new Option("TCP_THIN_LINEAR_TIMEOUTS", TCP, 16, 4),
        new Option("TCP_USER_TIMEOUT", TCP, 18, 4),
        new Option("TCP_FASTOPEN", TCP, 23, 4),
        new Option("TCP_NOTSENT_LOWAT", TCP, 25, 4),
        new Option("UDP_CORK", Sockets.SOL_UDP, Sockets.UDP_CORK, 4),
        new Option("IP_HDRINCL", IP, 3, 4),
        new Option("IPV6_HDRINCL", IPV6, 36, 4),
        new Option("IPV6_CHECKSUM", IPV6, 7, 4),
        new Option("ICMP_FILTER", Sockets.SOL_RAW, 1, 4),
        new Option("ICMPV6_FILTER", Sockets.IPPROTO_ICMPV6, 1, 32),
        new Option("SO_LOCK_FILTER", SOL_SOCKET, Sockets.SO_LOCK_FILTER, 4),
        new Option(BUF_LOCK, SOL_SOCKET, 72, 4));
    /** The classic BPF socket filter (SO_ATTACH_FILTER), read with SO_GET_FILTER; attached before SO_LOCK_FILTER. */
    private static final String FILTER = "SO_ATTACH_FILTER";

    /** What a fresh socket of {family, type, protocol} answers, by option name. */
    private static final Map<List<Integer>, Map<String, byte[]>> FRESH = new ConcurrentHashMap<>();

    private InetOptions() {
    }

    /** The options of {@code file} (a socket of {@code family} and {@code type}) that differ from a fresh one's, by name. */
    static Map<String, byte[]> changed(OpenFile file, int family, int type) {
        return changed(file, family, type, 0);
    }

    /**
     * {@link #changed(OpenFile, int, int)} of a socket of {@code protocol} (a raw socket's: it has no default). Refuses
     * a socket filter attached as an eBPF program, which has no form to read back.
     */
    static Map<String, byte[]> changed(OpenFile file, int family, int type, int protocol) {
        int fd = file.local();
        Map<String, byte[]> fresh = FRESH.computeIfAbsent(List.of(family, type, protocol), k -> {
            int s = Sockets.socket(family, type | Linux.SOCK_CLOEXEC, protocol);
            try {
                return read(s);
            } finally {
                Linux.close(s);
            }
        });
        Map<String, byte[]> out = new LinkedHashMap<>();
        read(fd).forEach((name, value) -> {
            if (!Arrays.equals(value, fresh.get(name))) {
                out.put(name, value);
            }
        });
        try {
            byte[] filter = Sockets.socketFilter(fd);
            if (filter.length > 0) {
                out.put(FILTER, filter);
            }
        } catch (SyscallException e) {
            if (e.errno() == io.pmig.nativeio.Errno.EACCES) {
                throw new RefusedException(file.describe() + ": its socket filter is an eBPF program (SO_ATTACH_BPF), which "
                    + "cannot be read back to attach to a copy");
            }
            throw e;
        }
        return out;
    }

    /**
     * Whether socket {@code fd} holds option memory beyond what {@code options} (from {@link #changed}) give a fresh
     * socket of its kind: multicast memberships, IPv6 options set with setsockopt. Its socket filter is charged there too,
     * and compared by attaching it to a fresh socket.
     */
    static boolean holdsOtherOptionMemory(int fd, int family, int type, int protocol, Map<String, byte[]> options) {
        int held = Sockets.meminfo(fd)[Sockets.SK_MEMINFO_OPTMEM];
        byte[] filter = options.get(FILTER);
        if (filter == null) {
            return held != 0;
        }
        int fresh = Sockets.socket(family, type | Linux.SOCK_CLOEXEC, protocol);
        try {
            Sockets.attachFilter(fresh, filter);
            return held != Sockets.meminfo(fresh)[Sockets.SK_MEMINFO_OPTMEM];
        } finally {
            Linux.close(fresh);
        }
    }

    private static Map<String, byte[]> read(int fd) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (Option o : ALL) {
            try {
                out.put(o.name(), Sockets.getsockopt(fd, o.level(), o.option(), o.length()));
            } catch (SyscallException e) {
                // not an option of this kind of socket
            }
        }
        return out;
    }

    /** Whether {@code options} (from {@link #changed}) let the socket bind an address this host lacks. */
    static boolean bindsForeignAddresses(Map<String, byte[]> options) {
        return options != null && (options.containsKey("IP_FREEBIND") || options.containsKey("IPV6_FREEBIND")
            || options.containsKey("IP_TRANSPARENT"));
    }

    /** Counts a socket of the image bound to {@code local} ({@code protocol}: "tcp", "udp"), for {@link #bind}. */
    static void countBinding(String protocol, byte[] local, RestoreContext context) {
        context.addBinding(portKey(protocol, local));
    }

    private static String portKey(String protocol, byte[] local) {
        return protocol + " " + ((local[2] & 0xff) << 8 | (local[3] & 0xff));
    }

    /**
     * Binds {@code fd}, a socket not connected, to {@code local} as its original was bound. Sockets of the image bound to
     * one port (sharing it with SO_REUSEPORT, which some may have turned off since: {@code reusePort} is the saved
     * setting) are all bound with SO_REUSEPORT, whatever order they come in: one bound without it would keep the
     * others off the port (EADDRINUSE); each gets its own setting back once every file is opened (and a listener
     * listens). An address this host lacked when it was saved ({@code foreign}: bound with IP_FREEBIND or
     * IP_TRANSPARENT, perhaps turned off since) is bound with IP_FREEBIND for the bind alone where {@code options}
     * give neither.
     */
    static void bind(int fd, String protocol, byte[] local, boolean reusePort, boolean foreign, Map<String, byte[]> options,
                     RestoreContext context) {
        if (!reusePort && context.bindings(portKey(protocol, local)) > 1) {
            Sockets.setInt(fd, SOL_SOCKET, Sockets.SO_REUSEPORT, 1);
            context.afterOpening(() -> Sockets.setInt(fd, SOL_SOCKET, Sockets.SO_REUSEPORT, 0));
        }
        boolean freebind = foreign && !bindsForeignAddresses(options);
        if (freebind) {
            Sockets.setInt(fd, IP, FREEBIND, 1);
        }
        Sockets.bind(fd, local);
        if (freebind) {
            Sockets.setInt(fd, IP, FREEBIND, 0);
        }
    }

    /**
     * Refuses, naming it, a socket bound to a network device (SO_BINDTODEVICE) this host lacks: setting it would
     * fail (ENODEV) once the restore is under way.
     */
    static void checkDevice(Map<String, byte[]> options, String socket) {
        byte[] device = options == null ? null : options.get("SO_BINDTODEVICE");
        if (device == null) {
            return;
        }
        String name = new String(device, 0, device.length > 0 && device[device.length - 1] == 0 ? device.length - 1 : device.length,
            java.nio.charset.StandardCharsets.UTF_8);
        if (!java.nio.file.Files.exists(java.nio.file.Path.of("/sys/class/net", name))) {
            throw new RefusedException(socket + " is bound to network device " + name + " (SO_BINDTODEVICE), which this host "
                + "lacks; create it, or restore where it exists");
        }
    }

    /**
     * Gives {@code fd} the buffer locks of its original (SO_BUF_LOCK; none if none was saved), after its buffer sizes
     * are set: setting a size locks it, and a restore sets sizes the original's kernel chose itself. Passed over
     * in images made before the options were kept, and on kernels without SO_BUF_LOCK, which could not read it either.
     */
    static void applyBufferLocks(int fd, Map<String, byte[]> options) {
        if (options == null) {
            return;
        }
        Option lock = ALL.get(ALL.size() - 1);
        try {
            Sockets.setsockopt(fd, lock.level(), lock.option(), options.getOrDefault(BUF_LOCK, new byte[4]));
        } catch (SyscallException e) {
            // a kernel before 5.14
        }
    }

    /** Sets each of {@code options} (from {@link #changed}; null in images made before they were kept) on {@code fd}, in order. */
    static void apply(int fd, Map<String, byte[]> options) {
        if (options == null) {
            return;
        }
        if (options.containsKey(FILTER)) {
            Sockets.attachFilter(fd, options.get(FILTER));
        }
        for (Option o : ALL) {
            byte[] value = options.get(o.name());
            if (value != null) {
                try {
                    Sockets.setsockopt(fd, o.level(), o.option(), value);
                } catch (SyscallException e) {
                    throw new SyscallException(e.call() + " (" + o.name() + ")", e.errno());
                }
            }
        }
    }
}
