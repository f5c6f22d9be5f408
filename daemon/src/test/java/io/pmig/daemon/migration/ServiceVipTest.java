package io.pmig.daemon.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.vip.netlink.InterfaceAddress;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Which addresses may be a VIP: never a node's own, and only one the moved processes alone use. */
class ServiceVipTest {
    private static final List<InterfaceAddress> NODE_A = List.of(
        new InterfaceAddress(ip("10.77.0.11"), 24, 0, 0, 0),
        new InterfaceAddress(ip("10.77.0.50"), 24, InterfaceAddress.IFA_F_SECONDARY, 0, 0));

    private static DaemonConfig config() {
        Properties p = new Properties();
        p.setProperty("node.name", "node-b");
        p.setProperty("listen", "10.77.0.12:7700");
        p.setProperty("peer.node-a", "10.77.0.11:7700");
        p.setProperty("peer.node-c", "10.77.0.13");
        return DaemonConfig.parse(p, "/etc/pmig/pmigd.conf");
    }

    private static String refusal(String vip, List<InterfaceAddress> here) {
        return assertThrows(ControlRefusedException.class,
            () -> new ServiceVip(ip(vip), 24).requireNoNodesAddress("node-b", here, here, "eth0", config())).getMessage();
    }

    @Test
    void aNodesOwnOrAPeersAddressIsNoVip() {
        List<InterfaceAddress> nodeB = List.of(new InterfaceAddress(ip("10.77.0.12"), 24, 0, 0, 0));
        assertEquals("10.77.0.12 is node-b's own address on eth0, not a VIP: moving it would cut node-b off its segment;"
            + " give the VIP the service uses (pmig vip list --dev eth0 shows them)", refusal("10.77.0.12", nodeB));
        assertEquals("10.77.0.11 is the address of node-a (peer.node-a in /etc/pmig/pmigd.conf), not a VIP: moving it would"
            + " cut node-a off", refusal("10.77.0.11", nodeB));
        assertTrue(refusal("10.77.0.13", nodeB).startsWith("10.77.0.13 is the address of node-c"));
        assertEquals("10.77.0.12 is node-b's own peer address (listen in /etc/pmig/pmigd.conf), not a VIP",
            refusal("10.77.0.12", List.of()));
        new ServiceVip(ip("10.77.0.50"), 24).requireNoNodesAddress("node-b", nodeB, nodeB, "eth0", config());
        new ServiceVip(ip("10.77.0.50"), 24).requireNoNodesAddress("node-a", NODE_A, NODE_A, "eth0", config());
        List<InterfaceAddress> management = List.of(new InterfaceAddress(ip("10.77.0.12"), 24, 0, 0, 0),
            new InterfaceAddress(ip("192.168.9.2"), 24, 0, 0, 0));
        assertEquals("192.168.9.2 is one of node-b's own addresses (on an interface other than eth0), not a VIP",
            assertThrows(ControlRefusedException.class, () -> new ServiceVip(ip("192.168.9.2"), 24).requireNoNodesAddress("node-b",
                nodeB, management, "eth0", config())).getMessage());
    }

    @Test
    void theSubnetsNetworkAndBroadcastAddressesAreNoVips() {
        assertEquals("10.77.0.0 is the network address of 10.77.0.0/24 on node-b's eth0, not a host's address: it cannot be a VIP",
            refusal("10.77.0.0", NODE_A));
        assertTrue(refusal("10.77.0.255", NODE_A).startsWith("10.77.0.255 is the broadcast address of 10.77.0.0/24"));
    }

    /** This JVM listens on 127.0.0.77: a sleep moved with that address would take it from under this JVM. */
    @Test
    void aVipAnotherProcessUsesStaysWithIt() throws Exception {
        Process sleep = new ProcessBuilder("sleep", "60").start();
        try (ServerSocket listener = new ServerSocket()) {
            listener.bind(new InetSocketAddress(ip("127.0.0.77"), 0));
            ServiceVip vip = new ServiceVip(ip("127.0.0.77"), 8);
            int self = (int) ProcessHandle.current().pid();
            String refusal = assertThrows(ControlRefusedException.class,
                () -> vip.requireUsedAloneBy(List.of((int) sleep.pid()), "node-a")).getMessage();
            assertTrue(refusal.startsWith("127.0.0.77 is also used on node-a by process " + self + " (java, uid "), refusal);
            assertTrue(refusal.endsWith("a VIP moves with the one service that uses it alone; give each service a VIP of its own"),
                refusal);
            vip.requireUsedAloneBy(List.of(self), "node-a");
            vip.requireUsedAloneBy(List.of((int) sleep.pid(), self), "node-a");
            new ServiceVip(ip("127.0.0.78"), 8).requireUsedAloneBy(List.of((int) sleep.pid()), "node-a");
        } finally {
            sleep.destroy();
            sleep.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
