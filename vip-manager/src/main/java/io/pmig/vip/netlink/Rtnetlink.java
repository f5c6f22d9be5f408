package io.pmig.vip.netlink;

import io.pmig.nativeio.Errno;
import io.pmig.vip.nativeio.Net;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * Interface addresses over rtnetlink, with no `ip` process. Message layouts mirror
 * linux/if_addr.h: struct ifaddrmsg {u8 ifa_family; u8 ifa_prefixlen; u8 ifa_flags; u8 ifa_scope;
 * u32 ifa_index;} (8 bytes) followed by struct rtattr {u16 rta_len; u16 rta_type;} attributes
 * IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS, IFA_PROTO, 4-byte aligned; message types from linux/rtnetlink.h.
 * Lives in the network namespace of the thread that created it. Not thread-safe.
 */
public final class Rtnetlink implements AutoCloseable {
    public static final short RTM_NEWADDR = 20;
    public static final short RTM_DELADDR = 21;
    public static final short RTM_GETADDR = 22;
    public static final int IFA_ADDRESS = 1;
    public static final int IFA_LOCAL = 2;
    public static final int IFA_FLAGS = 8;
    /** IFA_PROTO (linux/if_addr.h, Linux 6.1): a u8 naming who added the address, kept by the kernel and dumped back. */
    public static final int IFA_PROTO = 11;
    /**
     * The IFA_PROTO value pmig gives the addresses it adds, so that it knows them again (after a
     * daemon restart too): the kernel's own values (IFAPROT_KERNEL_*) are 1 to 3.
     */
    public static final int IFAPROT_PMIG = 0x70;
    /** RT_SCOPE_UNIVERSE (linux/rtnetlink.h) */
    public static final int RT_SCOPE_UNIVERSE = 0;
    private static final int IFADDRMSG_SIZE = 8;

    private final NetlinkSocket netlink;
    /** A datagram socket for the interface index ioctl (SIOCGIFINDEX). */
    private final int ioctlFd;

    private Rtnetlink(NetlinkSocket netlink, int ioctlFd) {
        this.netlink = netlink;
        this.ioctlFd = ioctlFd;
    }

    /** Opens the sockets in the calling thread's network namespace. */
    public static Rtnetlink open() {
        NetlinkSocket nl = NetlinkSocket.openRoute();
        try {
            return new Rtnetlink(nl, Net.socket(Net.AF_INET, Net.SOCK_DGRAM, 0));
        } catch (RuntimeException e) {
            nl.close();
            throw e;
        }
    }

    /** The index of interface {@code name}, or -1 if there is no such interface. */
    public int interfaceIndex(String name) {
        int r = Net.interfaceIndex(ioctlFd, name);
        if (r == -Errno.ENODEV) {
            return -1;
        }
        if (r < 0) {
            throw new io.pmig.nativeio.SyscallException("ioctl(SIOCGIFINDEX, " + name + ")", -r);
        }
        return r;
    }

    /** Every IPv4 and IPv6 address of interface {@code ifindex} (an RTM_GETADDR dump, filtered here). */
    public List<InterfaceAddress> addresses(int ifindex) {
        return addresses(index -> index == ifindex);
    }

    /** Every IPv4 and IPv6 address of every interface of this network namespace. */
    public List<InterfaceAddress> allAddresses() {
        return addresses(index -> true);
    }

    private List<InterfaceAddress> addresses(IntPredicate interfaces) {
        List<InterfaceAddress> out = new ArrayList<>();
        byte[] request = ByteBuffer.allocate(IFADDRMSG_SIZE).order(ByteOrder.nativeOrder())
            .put((byte) 0).put((byte) 0).put((byte) 0).put((byte) 0).putInt(0).array();   // AF_UNSPEC: both families
        netlink.dump(RTM_GETADDR, request, (msgType, m) -> {
            if (msgType != RTM_NEWADDR) {
                return;
            }
            int family = m.get(0) & 0xff;
            int prefix = m.get(1) & 0xff;
            int flags = m.get(2) & 0xff;
            int scope = m.get(3) & 0xff;
            int protocol = 0;
            int index = m.getInt(4);
            if (!interfaces.test(index) || (family != Net.AF_INET && family != Net.AF_INET6)) {
                return;
            }
            byte[] local = null;
            byte[] address = null;
            int at = IFADDRMSG_SIZE;
            while (at + 4 <= m.limit()) {
                int len = m.getShort(at) & 0xffff;
                int type = m.getShort(at + 2) & 0x3fff;
                if (len < 4 || at + len > m.limit()) {
                    break;
                }
                if (type == IFA_LOCAL || type == IFA_ADDRESS) {
                    byte[] v = new byte[len - 4];
                    m.get(at + 4, v);
                    if (type == IFA_LOCAL) {
                        local = v;
                    } else {
                        address = v;
                    }
                } else if (type == IFA_FLAGS && len >= 8) {
                    flags = m.getInt(at + 4);               // the full 32-bit flags
                } else if (type == IFA_PROTO && len >= 5) {
                    protocol = m.get(at + 4) & 0xff;
                }
                at += NetlinkSocket.align(len);
            }
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
            byte[] own = local != null ? local : address;
            if (own != null) {
                try {
                    out.add(new InterfaceAddress(InetAddress.getByAddress(own), prefix, flags, scope, protocol));
                } catch (UnknownHostException e) {
                    throw new IllegalStateException(e);
                }
            }
        });
        return out;
    }

    /**
     * Adds {@code address}/{@code prefix} to interface {@code ifindex} (RTM_NEWADDR with
     * NLM_F_CREATE|NLM_F_EXCL, so an existing address answers EEXIST). IPv6 addresses get
     * IFA_F_NODAD: a VIP is checked on the segment before it is taken, and a tentative address
     * could not be used for the restored sockets at once. Every address gets IFA_PROTO
     * {@link #IFAPROT_PMIG}: pmig removes on request only what it added.
     */
    public NetlinkSocket.Ack addAddress(int ifindex, InetAddress address, int prefix) {
        return netlink.acked(RTM_NEWADDR, (short) (NetlinkSocket.NLM_F_CREATE | NetlinkSocket.NLM_F_EXCL),
            addressMessage(ifindex, address, prefix, address instanceof Inet6Address ? InterfaceAddress.IFA_F_NODAD : 0, true, true));
    }

    /**
     * Removes {@code address} from interface {@code ifindex} (RTM_DELADDR; EADDRNOTAVAIL if absent).
     * IPv4 matches on IFA_LOCAL alone, so any prefix length is removed; IPv6 must match the prefix.
     */
    public NetlinkSocket.Ack removeAddress(int ifindex, InetAddress address, int prefix) {
        return netlink.acked(RTM_DELADDR, (short) 0,
            addressMessage(ifindex, address, prefix, 0, address instanceof Inet6Address, false));
    }

    private static byte[] addressMessage(int ifindex, InetAddress address, int prefix, int flags, boolean withAddress,
                                         boolean markedPmig) {
        byte[] a = address.getAddress();
        int family = address instanceof Inet4Address ? Net.AF_INET : Net.AF_INET6;
        int attr = 4 + a.length;                            // already 4-aligned for 4 and 16 bytes
        ByteBuffer b = ByteBuffer.allocate(IFADDRMSG_SIZE + (withAddress ? 2 : 1) * attr + 8 + (markedPmig ? 8 : 0))
            .order(ByteOrder.nativeOrder());
        b.put((byte) family).put((byte) prefix).put((byte) flags).put((byte) RT_SCOPE_UNIVERSE).putInt(ifindex);
        b.putShort((short) attr).putShort((short) IFA_LOCAL).put(a);
        if (withAddress) {
            b.putShort((short) attr).putShort((short) IFA_ADDRESS).put(a);
        }
        b.putShort((short) 8).putShort((short) IFA_FLAGS).putInt(flags);
        if (markedPmig) {
            b.putShort((short) 5).putShort((short) IFA_PROTO).put((byte) IFAPROT_PMIG).put(new byte[3]);   // padded to 4
        }
        return b.array();
    }

    @Override
    public void close() {
        netlink.close();
        Net.close(ioctlFd);
    }
}
