package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.vip.arp.GratuitousArp;
import io.pmig.vip.netlink.VipAddresses;

import java.net.InetAddress;
import java.time.Duration;

import org.junit.jupiter.api.Test;

/**
 * B learns the VIP at A's MAC; the VIP then moves to another MAC in A (the veth's address is
 * changed live, as if another NIC took it); A announces; B's neighbour entry follows.
 */
class GratuitousArpTest extends TwoNamespaces {
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
        GratuitousArp.Mode[] modes = GratuitousArp.Mode.values();
        for (int i = 0; i < modes.length; i++) {
            run("ip", "-n", nsA, "link", "set", "dev", IF_A, "address", macs[i]);
            assertTrue(neighB(VIP).contains(i == 0 ? old : macs[i - 1]), "B still has the old MAC: " + neighB(VIP));
            long micros = GratuitousArp.announce(IF_A, vip, modes[i]);
            String neigh = waitForNeighbour(VIP, macs[i]);
            assertTrue(neigh.contains(macs[i]), modes[i] + " announcement (" + micros + " µs) moved B's entry: " + neigh);
        }
    }

    @Test
    void repeatsKeepTheirSchedule() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        try (VipAddresses vips = new VipAddresses()) {
            vips.add(IF_A, vip, 24);
        }
        GratuitousArp.Result r = GratuitousArp.announce(IF_A, vip, GratuitousArp.Mode.BOTH, 3, Duration.ofMillis(50));
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
