package io.pmig.vip.netlink;

import io.pmig.vip.VipException;
import io.pmig.nativeio.Errno;

import java.net.InetAddress;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A service's VIP on an interface: add, remove and list over rtnetlink, idempotent, with every
 * check done before anything changes. Works in the network namespace of the thread that opened
 * it; one instance per thread (not thread-safe). Close it to release its sockets.
 */
public final class VipAddresses implements AutoCloseable {
    private final Rtnetlink rtnl;

    public VipAddresses() {
        this.rtnl = Rtnetlink.open();
    }

    /**
     * Puts {@code vip}/{@code prefix} on {@code iface}, marked as pmig's. Already there as pmig's:
     * nothing to do. Refused, before anything changes, when the interface does not exist, the
     * address is there but not pmig's (the node's own, or one added by hand), or the VIP falls
     * outside every subnet the interface already has (its own, non-VIP addresses) or is the
     * network or broadcast address of one.
     */
    public void add(String iface, InetAddress vip, int prefix) {
        checkPrefix(vip, prefix);
        int index = index(iface);
        List<InterfaceAddress> present = rtnl.addresses(index);
        Optional<InterfaceAddress> already = present.stream().filter(a -> a.address().equals(vip)).findFirst();
        if (already.isPresent()) {
            if (already.get().addedByPmig()) {
                return;
            }
            throw notPmigs(iface, already.get());
        }
        List<InterfaceAddress> subnets = present.stream()
            .filter(a -> a.address().getClass() == vip.getClass() && a.isSubnet() && !a.secondary())
            .toList();
        if (subnets.stream().noneMatch(a -> a.contains(vip))) {
            String have = subnets.isEmpty() ? "none" : subnets.stream().map(InterfaceAddress::subnet).distinct().collect(Collectors.joining(", "));
            throw new VipException(vip.getHostAddress() + " is outside " + iface + "'s subnets (" + have
                + "); a VIP must be in the segment's subnet");
        }
        for (InterfaceAddress subnet : subnets) {
            subnet.reservedInSubnet(vip).ifPresent(why -> {
                throw new VipException(why + " on " + iface + ", not a host's address; choose another VIP");
            });
        }
        NetlinkSocket.Ack ack = rtnl.addAddress(index, vip, prefix);
        if (!ack.ok() && ack.errno() != Errno.EEXIST) {
            throw new VipException("cannot add " + vip.getHostAddress() + "/" + prefix + " to " + iface + ": " + ack.describe());
        }
    }

    /**
     * Takes {@code vip} off {@code iface} if pmig added it; not there: nothing to do. Refused,
     * before anything changes, when it is there but pmig did not add it: the interface's own
     * address, or one somebody else added, is not pmig's to remove.
     */
    public void removeAdded(String iface, InetAddress vip, int prefix) {
        checkPrefix(vip, prefix);
        Optional<InterfaceAddress> present = list(iface).stream().filter(a -> a.address().equals(vip)).findFirst();
        if (present.isPresent() && !present.get().addedByPmig()) {
            throw notPmigs(iface, present.get());
        }
        remove(iface, vip, prefix);
    }

    private static VipException notPmigs(String iface, InterfaceAddress a) {
        return new VipException(a + " on " + iface + " was not added by pmig (" + (a.isVip() ? "somebody added it by hand"
            : "it is the interface's own address") + "): pmig leaves it alone; choose another VIP, or use ip addr if it"
            + " really must change");
    }

    /** Takes {@code vip} off {@code iface}, whoever added it (a VIP leaving during a move); not there: nothing to do. */
    public void remove(String iface, InetAddress vip, int prefix) {
        checkPrefix(vip, prefix);
        int index = index(iface);
        NetlinkSocket.Ack ack = rtnl.removeAddress(index, vip, prefix);
        if (!ack.ok() && ack.errno() != Errno.EADDRNOTAVAIL && ack.errno() != Errno.ENOENT) {
            throw new VipException("cannot remove " + vip.getHostAddress() + "/" + prefix + " from " + iface + ": " + ack.describe());
        }
    }

    /** Every address of this node (of every interface of the namespace), VIPs included. */
    public List<InterfaceAddress> listAll() {
        return rtnl.allAddresses();
    }

    /** Every IPv4 and IPv6 address of {@code iface}, VIPs included. */
    public List<InterfaceAddress> list(String iface) {
        return rtnl.addresses(index(iface));
    }

    /** The interface's index; throws "interface eth9 does not exist" if there is none. */
    public int index(String iface) {
        int index = rtnl.interfaceIndex(iface);
        if (index < 0) {
            throw new VipException("interface " + iface + " does not exist");
        }
        return index;
    }

    private static void checkPrefix(InetAddress vip, int prefix) {
        int bits = vip.getAddress().length * 8;
        if (prefix < 1 || prefix > bits) {
            throw new VipException("prefix length " + prefix + " of " + vip.getHostAddress() + " must be within 1.." + bits);
        }
    }

    @Override
    public void close() {
        rtnl.close();
    }
}
