package io.pmig.daemon.service;

import io.pmig.vip.neighbour.Announcer;
import io.pmig.vip.netlink.VipAddresses;

import java.util.ArrayList;
import java.util.List;

/**
 * A service's VIPs on this node's VIP interface (vip.interface of pmigd.conf): put there before pmig run starts it, so
 * that it can bind them, and announced with gratuitous ARP; taken off when it stops here.
 */
final class ServiceVips {
    private ServiceVips() {
    }

    /** Adds each of {@code vips} the interface lacks and announces it; returns those it added. */
    static List<Service.Vip> bringUp(List<Service.Vip> vips, String iface) {
        List<Service.Vip> added = new ArrayList<>();
        try (VipAddresses addresses = new VipAddresses()) {
            for (Service.Vip vip : vips) {
                if (addresses.list(iface).stream().noneMatch(a -> a.address().equals(vip.address()))) {
                    addresses.add(iface, vip.address(), vip.prefix());
                    added.add(vip);
                    Announcer.announce(iface, vip.address());
                }
            }
        } catch (RuntimeException e) {
            takeDown(added, iface);
            throw e;
        }
        return added;
    }

    /** Takes each of {@code vips} that is on the interface off it. */
    static void takeDown(List<Service.Vip> vips, String iface) {
        try (VipAddresses addresses = new VipAddresses()) {
            for (Service.Vip vip : vips) {
                if (addresses.list(iface).stream().anyMatch(a -> a.address().equals(vip.address()))) {
                    addresses.remove(iface, vip.address(), vip.prefix());
                }
            }
        }
    }
}
