package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.vip.neighbour.ArpFrame;
import io.pmig.vip.netlink.InterfaceAddress;

import java.net.InetAddress;

import org.junit.jupiter.api.Test;

/** Pure logic, no privileges: subnet arithmetic and ARP frame layout. */
class AddressAndFrameTest {
    @Test
    void subnets() throws Exception {
        InterfaceAddress a = new InterfaceAddress(InetAddress.getByName("10.77.0.7"), 24, 0, 0, 0);
        assertEquals("10.77.0.0/24", a.subnet());
        assertTrue(a.contains(InetAddress.getByName("10.77.0.255")));
        assertFalse(a.contains(InetAddress.getByName("10.77.1.1")));
        assertFalse(a.contains(InetAddress.getByName("fd00::1")));
        InterfaceAddress odd = new InterfaceAddress(InetAddress.getByName("192.168.5.130"), 25, 0, 0, 0);
        assertEquals("192.168.5.128/25", odd.subnet());
        assertFalse(odd.contains(InetAddress.getByName("192.168.5.1")));
        InterfaceAddress v6 = new InterfaceAddress(InetAddress.getByName("fd78::1"), 64, 0, 0, 0);
        assertEquals("fd78:0:0:0:0:0:0:0/64", v6.subnet());
        assertTrue(v6.contains(InetAddress.getByName("fd78::abcd")));
        assertFalse(new InterfaceAddress(InetAddress.getByName("10.1.1.1"), 32, 0, 0, 0).isSubnet());
        assertTrue(new InterfaceAddress(InetAddress.getByName("10.1.1.1"), 0, 0, 0, 0).contains(InetAddress.getByName("8.8.8.8")));
    }

    @Test
    void networkAndBroadcastAddressesAreNoHostsAddresses() throws Exception {
        InterfaceAddress a = new InterfaceAddress(InetAddress.getByName("10.77.0.7"), 24, 0, 0, 0);
        assertEquals("10.77.0.0 is the network address of 10.77.0.0/24", a.reservedInSubnet(InetAddress.getByName("10.77.0.0")).orElseThrow());
        assertEquals("10.77.0.255 is the broadcast address of 10.77.0.0/24",
            a.reservedInSubnet(InetAddress.getByName("10.77.0.255")).orElseThrow());
        assertTrue(a.reservedInSubnet(InetAddress.getByName("10.77.0.254")).isEmpty());
        assertTrue(a.reservedInSubnet(InetAddress.getByName("10.77.1.0")).isEmpty(), "another subnet is not this one's to judge");
        InterfaceAddress odd = new InterfaceAddress(InetAddress.getByName("192.168.5.130"), 25, 0, 0, 0);
        assertTrue(odd.reservedInSubnet(InetAddress.getByName("192.168.5.255")).isPresent());
        assertTrue(odd.reservedInSubnet(InetAddress.getByName("192.168.5.128")).isPresent());
        assertTrue(odd.reservedInSubnet(InetAddress.getByName("192.168.5.127")).isEmpty());
        InterfaceAddress pointToPoint = new InterfaceAddress(InetAddress.getByName("10.1.1.0"), 31, 0, 0, 0);
        assertTrue(pointToPoint.reservedInSubnet(InetAddress.getByName("10.1.1.1")).isEmpty(), "a /31 has two hosts, RFC 3021");
        InterfaceAddress v6 = new InterfaceAddress(InetAddress.getByName("fd78::1"), 64, 0, 0, 0);
        assertTrue(v6.reservedInSubnet(InetAddress.getByName("fd78::")).orElseThrow().contains("network address"));
        assertTrue(v6.reservedInSubnet(InetAddress.getByName("fd78::ffff:ffff:ffff:ffff")).isEmpty(), "IPv6 has no broadcast");
    }

    @Test
    void gratuitousReplyLayout() throws Exception {
        byte[] mac = {2, 0, 0, 0, 0, 1};
        byte[] ip = InetAddress.getByName("10.78.0.100").getAddress();
        byte[] f = new ArpFrame(ArpFrame.BROADCAST, mac, ArpFrame.ARPOP_REPLY, mac, ip, mac, ip).encode();
        assertEquals(60, f.length);
        assertEquals(0x08, f[12]);
        assertEquals(0x06, f[13]);
        assertEquals(2, f[21]);
        ArpFrame d = ArpFrame.decode(f, f.length);
        assertArrayEquals(mac, d.senderMac());
        assertArrayEquals(ip, d.targetIp());
        assertEquals("10.78.0.100", d.sender().getHostAddress());
        assertEquals("02:00:00:00:00:01", ArpFrame.mac(mac));
        f[13] = 0;
        assertNull(ArpFrame.decode(f, f.length));
        assertNull(ArpFrame.decode(f, 20));
    }
}
