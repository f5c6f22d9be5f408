package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.vip.neighbour.ArpFrame;
import io.pmig.vip.neighbour.ArpProbe;
import io.pmig.nativeio.Errno;
import io.pmig.vip.netlink.InterfaceAddress;
import io.pmig.vip.netlink.NetlinkSocket;
import io.pmig.vip.netlink.Rtnetlink;
import io.pmig.vip.netlink.VipAddresses;
import io.pmig.vip.VipException;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

/** VIP add/list/remove over rtnetlink in namespace A, checked with `ip -o addr` inside A. */
class VipAddressesTest extends TwoNamespaces {
    static final String VIP = "10.78.0.100";

    @Test
    void addListAndRemove() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(IF_A, vip, 24);
            assertTrue(addrA().contains("inet " + VIP + "/24"), addrA());
            List<InterfaceAddress> listed = vips.list(IF_A);
            assertTrue(listed.stream().anyMatch(a -> a.address().equals(vip) && a.prefix() == 24 && a.secondary()), listed.toString());
            assertTrue(listed.stream().anyMatch(a -> a.address().getHostAddress().equals(ADDR_A) && !a.secondary()), listed.toString());
            assertTrue(listed.stream().anyMatch(a -> a.address().getAddress().length == 16), "link-local IPv6 listed too: " + listed);
            List<InterfaceAddress> all = vips.listAll();
            assertTrue(all.containsAll(listed) && all.stream().anyMatch(a -> a.address().getHostAddress().equals("127.0.0.1")),
                "every interface's, lo's too: " + all);
            vips.remove(IF_A, vip, 24);
            assertFalse(addrA().contains(VIP), addrA());
            assertTrue(addrA().contains("inet " + ADDR_A + "/24"), "the node address stays: " + addrA());
            assertFalse(vips.list(IF_A).stream().anyMatch(a -> a.address().equals(vip)));
        }
    }

    @Test
    void addAndRemoveAreIdempotent() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(IF_A, vip, 32);
            vips.add(IF_A, vip, 32);
            vips.add(IF_A, vip, 24);        // already there under another prefix: still nothing to do
            assertEquals(1, addrA().split(VIP + "/").length - 1, addrA());
            vips.remove(IF_A, vip, 32);
            vips.remove(IF_A, vip, 32);
            assertFalse(addrA().contains(VIP), addrA());
        }
    }

    @Test
    void ipv6VipInTheInterfacesPrefix() throws Exception {
        run("ip", "-n", nsA, "addr", "add", "fd78::1/64", "dev", IF_A, "nodad");
        InetAddress vip = InetAddress.getByName("fd78::100");
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(IF_A, vip, 64);
            vips.add(IF_A, vip, 64);
            assertTrue(addrA().contains("inet6 fd78::100/64"), addrA());
            assertTrue(vips.list(IF_A).stream().anyMatch(a -> a.address().equals(vip) && a.prefix() == 64), vips.list(IF_A).toString());
            VipException e = assertThrows(VipException.class, () -> vips.add(IF_A, InetAddress.getByName("fd79::5"), 64));
            assertTrue(e.getMessage().startsWith("fd79:0:0:0:0:0:0:5 is outside " + IF_A + "'s subnets ("), e.getMessage());
            vips.remove(IF_A, vip, 64);
            vips.remove(IF_A, vip, 64);
            assertFalse(addrA().contains("fd78::100"), addrA());
            assertTrue(addrA().contains("fd78::1/64"), addrA());
        }
    }

    @Test
    void kernelRefusalsComeBackAsErrnoWithTheKernelsWords() throws Exception {
        try (Rtnetlink rtnl = Rtnetlink.open()) {
            NetlinkSocket.Ack ack = rtnl.addAddress(999_999, InetAddress.getByName(VIP), 24);
            assertEquals(Errno.ENODEV, ack.errno(), ack.describe());
            assertTrue(ack.describe().startsWith("ENODEV"), ack.describe());
            System.out.println("RTM_NEWADDR on a missing ifindex: " + ack.describe());
            assertTrue(rtnl.addAddress(rtnl.interfaceIndex(IF_A), InetAddress.getByName(VIP), 24).ok());
            assertEquals(Errno.EEXIST, rtnl.addAddress(rtnl.interfaceIndex(IF_A), InetAddress.getByName(VIP), 24).errno());
            assertTrue(rtnl.removeAddress(rtnl.interfaceIndex(IF_A), InetAddress.getByName(VIP), 24).ok());
            assertEquals(Errno.EADDRNOTAVAIL, rtnl.removeAddress(rtnl.interfaceIndex(IF_A), InetAddress.getByName(VIP), 24).errno());
        }
    }

    @Test
    void noSuchInterfaceIsAClearError() throws Exception {
        String before = addrA();
        try (VipAddresses vips = new VipAddresses()) {
            VipException e = assertThrows(VipException.class, () -> vips.add("eth9", InetAddress.getByName(VIP), 24));
            assertEquals("interface eth9 does not exist", e.getMessage());
            e = assertThrows(VipException.class, () -> vips.remove("eth9", InetAddress.getByName(VIP), 24));
            assertEquals("interface eth9 does not exist", e.getMessage());
            assertThrows(VipException.class, () -> vips.list("eth9"));
        }
        assertEquals(before, addrA());
    }

    @Test
    void vipOutsideTheSubnetIsRefusedBeforeAnythingChanges() throws Exception {
        String before = addrA();
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(IF_A, InetAddress.getByName(VIP), 32);     // a /32 VIP is not a subnet to admit others by
            VipException e = assertThrows(VipException.class, () -> vips.add(IF_A, InetAddress.getByName("10.0.9.5"), 24));
            assertEquals("10.0.9.5 is outside " + IF_A + "'s subnets (10.78.0.0/24); a VIP must be in the segment's subnet", e.getMessage());
            e = assertThrows(VipException.class, () -> vips.add(IF_A, InetAddress.getByName("10.78.1.5"), 32));
            assertTrue(e.getMessage().startsWith("10.78.1.5 is outside"), e.getMessage());
            vips.remove(IF_A, InetAddress.getByName(VIP), 32);
        }
        assertEquals(before, addrA());
    }

    @Test
    void networkAndBroadcastAddressesAreRefusedBeforeAnythingChanges() throws Exception {
        String before = addrA();
        try (VipAddresses vips = new VipAddresses()) {
            VipException e = assertThrows(VipException.class, () -> vips.add(IF_A, InetAddress.getByName("10.78.0.0"), 24));
            assertEquals("10.78.0.0 is the network address of 10.78.0.0/24 on " + IF_A + ", not a host's address; choose another VIP",
                e.getMessage());
            e = assertThrows(VipException.class, () -> vips.add(IF_A, InetAddress.getByName("10.78.0.255"), 32));
            assertTrue(e.getMessage().startsWith("10.78.0.255 is the broadcast address of 10.78.0.0/24"), e.getMessage());
        }
        assertEquals(before, addrA());
    }

    /** What pmig adds carries its mark (IFA_PROTO), in the kernel: another VipAddresses, as after a restart, knows it. */
    @Test
    void onlyWhatPmigAddedIsRemovedOnRequest() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        run("ip", "-n", nsA, "addr", "add", "10.78.0.101/24", "dev", IF_A);
        try (VipAddresses adding = new VipAddresses()) {
            adding.add(IF_A, vip, 24);
        }
        String before = addrA();
        try (VipAddresses vips = new VipAddresses()) {
            List<InterfaceAddress> listed = vips.list(IF_A);
            assertTrue(listed.stream().anyMatch(a -> a.address().equals(vip) && a.addedByPmig() && a.isVip()), listed.toString());
            assertTrue(listed.stream().noneMatch(a -> a.address().getHostAddress().equals(ADDR_A) && a.addedByPmig()), listed.toString());
            VipException own = assertThrows(VipException.class, () -> vips.removeAdded(IF_A, InetAddress.getByName(ADDR_A), 24));
            assertTrue(own.getMessage().startsWith(ADDR_A + "/24 on " + IF_A + " was not added by pmig (it is the interface's own"
                + " address)"), own.getMessage());
            VipException byHand = assertThrows(VipException.class, () -> vips.removeAdded(IF_A, InetAddress.getByName("10.78.0.101"), 24));
            assertTrue(byHand.getMessage().contains("was not added by pmig (somebody added it by hand)"), byHand.getMessage());
            VipException addOwn = assertThrows(VipException.class, () -> vips.add(IF_A, InetAddress.getByName(ADDR_A), 24));
            assertTrue(addOwn.getMessage().contains("was not added by pmig"), addOwn.getMessage());
            assertEquals(before, addrA(), "nothing changed");
            vips.removeAdded(IF_A, vip, 24);
            vips.removeAdded(IF_A, vip, 24);
        }
        assertFalse(addrA().contains(VIP + "/"), addrA());
        assertTrue(addrA().contains("inet " + ADDR_A + "/24") && addrA().contains("10.78.0.101/24"), addrA());
    }

    @Test
    void vipHeldByAnotherHostIsDetectedByArpProbe() throws Exception {
        run("ip", "-n", nsB, "addr", "add", "10.78.0.50/24", "dev", IF_B);
        String macB = run("ip", "-n", nsB, "-o", "link", "show", "dev", IF_B).replaceAll("(?s).*link/ether ([0-9a-f:]{17}).*", "$1").trim();
        var holder = ArpProbe.holder(IF_A, InetAddress.getByName("10.78.0.50"), Duration.ofMillis(500));
        assertTrue(holder.isPresent(), "B holds 10.78.0.50");
        assertEquals(macB, ArpFrame.mac(holder.get()));
        assertTrue(ArpProbe.isInUse(IF_A, InetAddress.getByName(ADDR_B), Duration.ofMillis(500)));
        assertFalse(ArpProbe.isInUse(IF_A, InetAddress.getByName("10.78.0.51"), Duration.ofMillis(300)));
        assertFalse(ArpProbe.isInUse(IF_A, InetAddress.getByName(ADDR_A), Duration.ofMillis(300)), "our own address is not a conflict");
        assertThrows(VipException.class, () -> ArpProbe.isInUse("eth9", InetAddress.getByName(VIP), Duration.ofMillis(10)));
    }
}
