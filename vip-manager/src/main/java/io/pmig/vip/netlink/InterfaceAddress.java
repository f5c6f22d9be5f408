package io.pmig.vip.netlink;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * One address of an interface as RTM_GETADDR reports it: the address, its prefix length, the
 * IFA_F_* flags (linux/if_addr.h) and its scope (RT_SCOPE_*, linux/rtnetlink.h).
 */
public record InterfaceAddress(InetAddress address, int prefix, int flags, int scope) {
    /** IFA_F_SECONDARY: a further address in a subnet the interface already has a primary for. */
    public static final int IFA_F_SECONDARY = 0x01;
    public static final int IFA_F_NODAD = 0x02;

    public boolean secondary() {
        return (flags & IFA_F_SECONDARY) != 0;
    }

    /**
     * Whether this is a VIP rather than the interface's own address: IPv4 makes a second address in
     * a subnet secondary; an IPv6 VIP is added without duplicate address detection (see
     * {@link Rtnetlink#addAddress}), which the own global and link-local addresses go through.
     */
    public boolean isVip() {
        return address.getAddress().length == 4 ? secondary() : (flags & IFA_F_NODAD) != 0 && !address.isLinkLocalAddress();
    }

    /** Whether the address's prefix covers a whole subnet rather than the host alone (/32, /128). */
    public boolean isSubnet() {
        return prefix < address.getAddress().length * 8;
    }

    /** The network this address is in, e.g. 10.77.0.0/24. */
    public String subnet() {
        return network(address, prefix).getHostAddress() + "/" + prefix;
    }

    /** Whether {@code other} falls into this address's subnet. */
    public boolean contains(InetAddress other) {
        return other.getAddress().length == address.getAddress().length
            && network(other, prefix).equals(network(address, prefix));
    }

    @Override
    public String toString() {
        return address.getHostAddress() + "/" + prefix;
    }

    static InetAddress network(InetAddress a, int prefix) {
        byte[] b = a.getAddress();
        int bits = b.length * 8;
        BigInteger mask = prefix == 0 ? BigInteger.ZERO
            : BigInteger.ONE.shiftLeft(bits).subtract(BigInteger.ONE).shiftRight(bits - prefix).shiftLeft(bits - prefix);
        byte[] n = b.clone();
        byte[] m = mask.toByteArray();
        for (int i = 0; i < b.length; i++) {
            int mi = m.length - b.length + i;
            n[i] = (byte) (b[i] & (mi >= 0 ? m[mi] : 0));
        }
        try {
            return InetAddress.getByAddress(n);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
