package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.vip.neighbour.Announcer;
import io.pmig.vip.netlink.VipAddresses;

import java.net.InetAddress;
import java.time.Duration;

import org.junit.jupiter.api.Test;

/**
 * B learns the VIP at A's MAC; the VIP then moves to another MAC in A (the veth's address is
 * changed live, as if another NIC took it); A announces; B's neighbour entry follows.
 */
class AnnouncerTest extends TwoNamespaces {
    static final String VIP = "10.78.0.100";

    @Test
    void neighbourFollowsEachAnnouncementMode() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(IF_A, vip, 24);
        }
        run("ip", "netns", "exec", nsB, "ping", "-c", "1", "-W", "2", VIP);
        String old = macA();
        assertTrue(neighB(VIP).contains(old), neighB(VIP));
        String[] macs = {"02:78:00:00:00:11", "02:78:00:00:00:12", "02:78:00:00:00:13"};
        Announcer.Mode[] modes = Announcer.Mode.values();
        for (int i = 0; i < modes.length; i++) {
            run("ip", "-n", nsA, "link", "set", "dev", IF_A, "address", macs[i]);
            assertTrue(neighB(VIP).contains(i == 0 ? old : macs[i - 1]), "B still has the old MAC: " + neighB(VIP));
            long micros = Announcer.announce(IF_A, vip, modes[i]);
            String neigh = waitForNeighbour(VIP, macs[i]);
            assertTrue(neigh.contains(macs[i]), modes[i] + " announcement (" + micros + " µs) moved B's entry: " + neigh);
        }
    }

    /** IPv6: B's entry for the VIP, pointing at a stale MAC, follows A's unsolicited neighbour advertisement. */
    @Test
    void ipv6NeighbourFollowsAnUnsolicitedAdvertisement() throws Exception {
        String vip6 = "fd78::100";
        run("ip", "-n", nsA, "addr", "add", "fd78::1/64", "dev", IF_A, "nodad");
        run("ip", "-n", nsB, "addr", "add", "fd78::2/64", "dev", IF_B, "nodad");
        run("ip", "-n", nsA, "addr", "add", vip6 + "/64", "dev", IF_A, "nodad");
        run("ip", "-n", nsB, "-6", "neigh", "replace", vip6, "lladdr", "02:78:00:00:00:99", "dev", IF_B, "nud", "stale");
        assertTrue(neighB(vip6).contains("02:78:00:00:00:99"), neighB(vip6));
        Announcer.Result r = Announcer.announce(IF_A, InetAddress.getByName(vip6), Announcer.Mode.BOTH, 1, Duration.ZERO);
        assertEquals(1, r.frames(), "one advertisement a round");
        String neigh = waitForNeighbour(vip6, macA());
        assertTrue(neigh.contains(macA()), "B's entry follows the advertisement: " + neigh);
    }

    @Test
    void repeatsKeepTheirSchedule() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(IF_A, vip, 24);
        }
        Announcer.Result r = Announcer.announce(IF_A, vip, Announcer.Mode.BOTH, 3, Duration.ofMillis(50));
        assertEquals(6, r.frames());
        assertTrue(r.firstRoundMicros() < 50_000, "first round at once: " + r);
        assertTrue(r.totalMicros() >= 100_000 && r.totalMicros() < 1_000_000, "rounds at 0, 50, 100 ms: " + r);
    }

    private String waitForNeighbour(String ip, String mac) throws Exception {
        String neigh = neighB(ip);
        for (int i = 0; i < 50 && !neigh.contains(mac); i++) {
            Thread.sleep(10);
            neigh = neighB(ip);
        }
        return neigh;
    }
}
