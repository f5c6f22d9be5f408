package io.pmig.vip.nativeio;

import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import io.pmig.nativeio.SyscallException;

import java.nio.charset.StandardCharsets;

/**
 * Typed socket calls for netlink and packet sockets, and the interface ioctls. Constants mirror
 * linux/socket.h, asm-generic/socket.h, linux/netlink.h, linux/if_packet.h, linux/if_ether.h,
 * linux/sockios.h, linux/if.h (struct ifreq), asm-generic/poll.h and asm-generic/fcntl.h.
 * Callers pass and get Java arrays; native buffers stay in here.
 */
public final class Net {
    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int AF_NETLINK = 16;
    public static final int AF_PACKET = 17;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_RAW = 3;
    public static final int SOCK_CLOEXEC = 02000000;
    public static final int NETLINK_ROUTE = 0;
    public static final int NETLINK_NETFILTER = 12;
    /** SOL_NETLINK and its options NETLINK_CAP_ACK / NETLINK_EXT_ACK (linux/netlink.h). */
    public static final int SOL_NETLINK = 270;
    public static final int NETLINK_CAP_ACK = 10;
    public static final int NETLINK_EXT_ACK = 11;
    public static final int SOL_SOCKET = 1;
    public static final int SO_RCVBUF = 8;
    /** linux/if_ether.h */
    public static final int ETH_P_ARP = 0x0806;
    public static final int ETH_ALEN = 6;
    /** linux/if_arp.h */
    public static final int ARPHRD_ETHER = 1;
    /** linux/sockios.h */
    public static final long SIOCGIFINDEX = 0x8933;
    public static final long SIOCGIFHWADDR = 0x8927;
    /** struct ifreq: char ifr_name[IFNAMSIZ=16]; then a 24-byte union (linux/if.h). */
    private static final int IFNAMSIZ = 16;
    private static final int IFREQ_SIZE = 40;
    /** struct sockaddr_nl {sa_family_t nl_family; u16 nl_pad; u32 nl_pid; u32 nl_groups;} (linux/netlink.h) */
    private static final int SOCKADDR_NL_SIZE = 12;
    /**
     * struct sockaddr_ll {u16 sll_family; be16 sll_protocol; int sll_ifindex; u16 sll_hatype;
     * u8 sll_pkttype; u8 sll_halen; u8 sll_addr[8];} (linux/if_packet.h)
     */
    private static final int SOCKADDR_LL_SIZE = 20;
    public static final int POLLIN = 0x1;
    public static final int MSG_DONTWAIT = 0x40;

    private Net() {
    }

    /** asm-generic/fcntl.h */
    public static final int O_RDONLY = 0;
    public static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 02000000;

    /** open(2) with O_CLOEXEC; throws naming {@code path}. */
    public static int open(String path, int flags) {
        byte[] b = path.getBytes(StandardCharsets.UTF_8);
        NativeMemory p = NativeMemory.allocate(b.length + 1L);
        p.zero();
        p.put(0, b);
        return (int) Syscall.call("open(" + path + ")", Nr.OPEN, p.address(), flags | O_CLOEXEC, 0);
    }

    public static int socket(int family, int type, int protocol) {
        return (int) Syscall.call("socket(" + family + ", " + type + ", " + protocol + ")", Nr.SOCKET, family, type | SOCK_CLOEXEC, protocol);
    }

    public static void close(int fd) {
        Syscall.tryCall(Nr.CLOSE, fd);
    }

    public static void setsockoptInt(int fd, int level, int name, int value) {
        NativeMemory m = NativeMemory.allocate(4);
        m.putInt(0, value);
        Syscall.call("setsockopt(" + fd + ", " + level + ", " + name + ")", Nr.SETSOCKOPT, fd, level, name, m.address(), 4);
    }

    /** Binds a netlink socket to a kernel-chosen port id, joining no multicast group. */
    public static void bindNetlink(int fd) {
        NativeMemory m = NativeMemory.allocate(SOCKADDR_NL_SIZE);
        m.zero();
        m.putShort(0, (short) AF_NETLINK);
        Syscall.call("bind(netlink " + fd + ")", Nr.BIND, fd, m.address(), SOCKADDR_NL_SIZE);
    }

    /** Binds a packet socket to {@code ifindex}, receiving frames of {@code ethertype} only. */
    public static void bindPacket(int fd, int ifindex, int ethertype) {
        NativeMemory m = NativeMemory.allocate(SOCKADDR_LL_SIZE);
        m.zero();
        m.putShort(0, (short) AF_PACKET);
        m.putShort(2, Short.reverseBytes((short) ethertype));    // network byte order
        m.putInt(4, ifindex);
        Syscall.call("bind(packet " + fd + ", ifindex " + ifindex + ")", Nr.BIND, fd, m.address(), SOCKADDR_LL_SIZE);
    }

    /** send(2) of {@code length} bytes already in {@code buffer}; returns the count sent. */
    public static int send(int fd, NativeMemory buffer, int length) {
        return (int) Syscall.call("send(" + fd + ")", Nr.SENDTO, fd, buffer.address(), length, 0, 0, 0);
    }

    /** recv(2) into {@code buffer}; returns the byte count, or -errno (e.g. -EAGAIN with MSG_DONTWAIT). */
    public static int recv(int fd, NativeMemory buffer, int flags) {
        return (int) Syscall.tryCall(Nr.RECVFROM, fd, buffer.address(), buffer.size(), flags, 0, 0);
    }

    /** Waits up to {@code timeoutMillis} for {@code fd} to become readable; true if it is. */
    public static boolean pollIn(int fd, int timeoutMillis) {
        NativeMemory m = NativeMemory.allocate(8);     // struct pollfd {int fd; short events; short revents;}
        m.putInt(0, fd);
        m.putShort(4, (short) POLLIN);
        m.putShort(6, (short) 0);
        long n = Syscall.tryCall(Nr.POLL, m.address(), 1, timeoutMillis);
        if (n == -Errno.EINTR) {
            return false;
        }
        if (n < 0) {
            throw new SyscallException("poll(" + fd + ")", (int) -n);
        }
        return n > 0 && (m.getShort(6) & POLLIN) != 0;
    }

    /** The index of interface {@code name}, or -errno (-ENODEV when there is none) (SIOCGIFINDEX). */
    public static int interfaceIndex(int fd, String name) {
        NativeMemory ifr = ifreq(name);
        long r = Syscall.tryCall(Nr.IOCTL, fd, SIOCGIFINDEX, ifr.address());
        return r < 0 ? (int) r : ifr.getInt(IFNAMSIZ);                 // ifr_ifindex
    }

    /**
     * The hardware address of interface {@code name} (SIOCGIFHWADDR: ifr_hwaddr is a struct
     * sockaddr whose sa_family is the ARPHRD_ type and sa_data the address). Returns
     * {arphrd type, address bytes...}; throws with the interface named on error.
     */
    public static byte[] hardwareAddress(int fd, String name) {
        NativeMemory ifr = ifreq(name);
        Syscall.call("ioctl(SIOCGIFHWADDR, " + name + ")", Nr.IOCTL, fd, SIOCGIFHWADDR, ifr.address());
        int type = ifr.getShort(IFNAMSIZ) & 0xffff;
        byte[] out = new byte[1 + ETH_ALEN];
        out[0] = (byte) type;
        ifr.get(IFNAMSIZ + 2, out, 1, ETH_ALEN);
        return out;
    }

    /** struct ifreq with {@code name} and the rest zero, for the interface ioctls here and in {@link Tun}. */
    static NativeMemory ifreq(String name) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("interface name '" + name + "' must be 1 to 15 bytes");
        }
        NativeMemory ifr = NativeMemory.allocate(IFREQ_SIZE);
        ifr.zero();
        ifr.put(0, bytes);
        return ifr;
    }
}
