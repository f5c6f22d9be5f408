package io.pmig.vip.netlink;

import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;

/**
 * One address of an interface as RTM_GETADDR reports it: the address, its prefix length, the
 * IFA_F_* flags (linux/if_addr.h), its scope (RT_SCOPE_*, linux/rtnetlink.h) and its IFA_PROTO
 * (who added it; 0 when nobody said).
 */
public record InterfaceAddress(InetAddress address, int prefix, int flags, int scope, int protocol) {
    /** IFA_F_SECONDARY: a further address in a subnet the interface already has a primary for. */
    public static final int IFA_F_SECONDARY = 0x01;
    public static final int IFA_F_NODAD = 0x02;

    public boolean secondary() {
        return (flags & IFA_F_SECONDARY) != 0;
    }

    /**
     * Whether this is a VIP rather than the interface's own address: one pmig added, or one that
     * looks added: IPv4 makes a second address in a subnet secondary; an IPv6 VIP is added without
     * duplicate address detection (see {@link Rtnetlink#addAddress}), which the own global and
     * link-local addresses go through.
     */
    public boolean isVip() {
        return addedByPmig()
            || (address.getAddress().length == 4 ? secondary() : (flags & IFA_F_NODAD) != 0 && !address.isLinkLocalAddress());
    }

    /** Whether pmig added this address (its IFA_PROTO mark, see {@link Rtnetlink#addAddress}). */
    public boolean addedByPmig() {
        return protocol == Rtnetlink.IFAPROT_PMIG;
    }

    /**
     * Why {@code other} cannot be a host's address in this address's subnet, if it cannot: it is
     * the network address (host part all zeros; for IPv6 the subnet-router anycast address) or the
     * IPv4 broadcast address (host part all ones). A /31, /32 or /127, /128 has neither.
     */
    public Optional<String> reservedInSubnet(InetAddress other) {
        int bits = address.getAddress().length * 8;
        if (!contains(other) || prefix >= bits - 1) {
            return Optional.empty();
        }
        if (other.equals(network(other, prefix))) {
            return Optional.of(other.getHostAddress() + " is the network address of " + subnet());
        }
        BigInteger hostBits = BigInteger.ONE.shiftLeft(bits - prefix).subtract(BigInteger.ONE);
        if (bits == 32 && new BigInteger(1, other.getAddress()).and(hostBits).equals(hostBits)) {
            return Optional.of(other.getHostAddress() + " is the broadcast address of " + subnet());
        }
        return Optional.empty();
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
