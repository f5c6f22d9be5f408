package io.pmig.cli.vip;

import io.pmig.vip.VipException;
import io.pmig.vip.netlink.InterfaceAddress;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** The interface a VIP goes on when the operator names none: the one interface whose own subnet holds it. */
final class SubnetInterface {
    private SubnetInterface() {
    }

    /** The name of that interface; refuses, naming the interfaces, when no subnet or several interfaces' subnets hold {@code vip}. */
    static String holding(InetAddress vip) {
        Set<String> holders = new TreeSet<>();
        Set<String> subnets = new TreeSet<>();
        for (NetworkInterface nif : interfaces()) {
            for (java.net.InterfaceAddress a : nif.getInterfaceAddresses()) {
                InterfaceAddress own = new InterfaceAddress(a.getAddress(), a.getNetworkPrefixLength(), 0, 0, 0);
                if (own.address().getClass() != vip.getClass() || !own.isSubnet() || own.address().isLinkLocalAddress()) {
                    continue;
                }
                subnets.add(nif.getName() + " " + own.subnet());
                if (own.contains(vip)) {
                    holders.add(nif.getName());
                }
            }
        }
        if (holders.size() == 1) {
            return holders.iterator().next();
        }
        if (holders.isEmpty()) {
            throw new VipException(vip.getHostAddress() + " lies in no subnet of this node's interfaces ("
                    + (subnets.isEmpty() ? "none" : String.join(", ", subnets)) + "); a VIP must be in its segment's subnet");
        }
        throw new VipException(vip.getHostAddress() + " lies in the subnets of several interfaces (" + String.join(", ", holders)
                + "); name the one to use with --dev IFACE");
    }

    private static List<NetworkInterface> interfaces() {
        try {
            return Collections.list(NetworkInterface.getNetworkInterfaces()).stream().filter(n -> !isLoopback(n)).toList();
        } catch (SocketException e) {
            throw new VipException("cannot list this node's interfaces: " + e.getMessage() + "; name the interface with --dev IFACE");
        }
    }

    private static boolean isLoopback(NetworkInterface nif) {
        try {
            return nif.isLoopback();
        } catch (SocketException e) {
            return false;
        }
    }
}
