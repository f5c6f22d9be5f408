package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.nativeio.SyscallException;
import io.pmig.vip.nativeio.Bpf;
import io.pmig.vip.nativeio.BpfInsn;
import io.pmig.vip.source.SourceAddress;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A cgroup pinned to a VIP: a process moved into it (a {@link SourceProbe} in namespace A, which has the VIP
 * beside its own address) connects to a server in namespace B from the VIP, sends UDP from it, reaches
 * loopback from loopback; a pin replaced leaves nothing of itself; after the pin is removed it connects from
 * A's own address again. The same with an IPv6 VIP. The cgroup is removed (and the programs with it) even when the test fails.
 */
class SourceAddressTest extends TwoNamespaces {
    private static final String VIP = "10.78.0.100";
    /** The address the cgroup is pinned to first: replaced, it must leave nothing behind that binds to it. */
    private static final String EARLIER_VIP = "10.78.0.101";
    private static final int PORT = 7201;
    private static final String VIP6 = "fd78::100";
    private static final String ADDR_A6 = "fd78::1";
    private static final String ADDR_B6 = "fd78::2";
    private static final String DUAL_STACK = "-Djava.net.preferIPv4Stack=false";
    private static final String IPV4_STACK = "-Djava.net.preferIPv4Stack=true";
    private Path cgroup;
    private final ExecutorService servers = Executors.newCachedThreadPool();

    @BeforeEach
    void makeCgroup() throws Exception {
        Optional<Path> root = SourceAddress.unifiedRoot();
        Assumptions.assumeTrue(root.isPresent(), "no cgroup v2 hierarchy on this host");
        cgroup = root.get().resolve("pmig-test-srcaddr-" + ProcessHandle.current().pid());
        Files.createDirectories(cgroup);
        run("ip", "-n", nsA, "addr", "add", VIP + "/24", "dev", IF_A);
        run("ip", "-n", nsA, "addr", "add", EARLIER_VIP + "/24", "dev", IF_A);
    }

    @AfterEach
    void removeCgroup() throws Exception {
        servers.shutdownNow();
        if (cgroup != null && Files.isDirectory(cgroup)) {
            for (String pid : Files.readString(cgroup.resolve("cgroup.procs")).split("\\s+")) {
                if (!pid.isEmpty()) {
                    exec("kill", "-9", pid);
                }
            }
            for (int i = 0; i < 200 && Files.isDirectory(cgroup); i++) {
                exec("rmdir", cgroup.toString());
                Thread.sleep(50);   // a killed process leaves the cgroup once reaped
            }
        }
    }

    @Test
    @Timeout(120)
    void pinnedCgroupConnectsAndSendsFromTheVip() throws Exception {
        InetAddress vip = InetAddress.getByName(VIP);
        SourceAddress.pin(cgroup, InetAddress.getByName(EARLIER_VIP));
        SourceAddress.pin(cgroup, vip);     // replaces it: the earlier programs, which would bind first, are gone
        assertEquals(Optional.of(vip), SourceAddress.pinOf(cgroup));
        SourceAddress.pin(cgroup, vip);     // again: still one pin
        assertEquals(Optional.of(vip), SourceAddress.pinOf(cgroup));

        assertEquals(List.of(VIP, VIP), tcpSourceSeenInB(DUAL_STACK, ADDR_B), "a dual-stack socket (connect6,"
            + " v4-mapped): the probe's own address and the server's view of it");
        assertEquals(List.of(VIP, VIP), tcpSourceSeenInB(IPV4_STACK, ADDR_B), "an IPv4 socket (connect4)");
        assertEquals(VIP, udpSourceSeenInB(ADDR_B));
        try (ServerSocket local = new ServerSocket(PORT, 1, InetAddress.getLoopbackAddress())) {
            Future<?> accepted = servers.submit(() -> {
                local.accept().close();
                return null;
            });
            assertEquals("127.0.0.1", probe(IPV4_STACK, "tcp", "127.0.0.1"), "loopback stays loopback");
            accepted.get(30, TimeUnit.SECONDS);
        }

        assertTrue(SourceAddress.unpin(cgroup));
        assertEquals(Optional.empty(), SourceAddress.pinOf(cgroup));
        assertFalse(SourceAddress.unpin(cgroup), "nothing left to remove");
        assertEquals(List.of(ADDR_A, ADDR_A), tcpSourceSeenInB(IPV4_STACK, ADDR_B), "unpinned: A's own address again");
    }

    @Test
    @Timeout(120)
    void pinnedToAnIpv6VipConnectsAndSendsFromIt() throws Exception {
        run("ip", "-n", nsA, "addr", "add", ADDR_A6 + "/64", "dev", IF_A, "nodad");
        run("ip", "-n", nsA, "addr", "add", VIP6 + "/64", "dev", IF_A, "nodad");
        run("ip", "-n", nsB, "addr", "add", ADDR_B6 + "/64", "dev", IF_B, "nodad");
        InetAddress vip = InetAddress.getByName(VIP6);
        String expected = vip.getHostAddress();
        SourceAddress.pin(cgroup, InetAddress.getByName(VIP));     // replaced by the IPv6 pin, family and all
        SourceAddress.pin(cgroup, vip);
        assertEquals(Optional.of(vip), SourceAddress.pinOf(cgroup));

        assertEquals(List.of(expected, expected), tcpSourceSeenInB(DUAL_STACK, ADDR_B6));
        assertEquals(List.of(ADDR_A, ADDR_A), tcpSourceSeenInB(IPV4_STACK, ADDR_B), "IPv4 is not pinned to an IPv6 VIP");
        assertEquals(expected, udpSourceSeenInB(ADDR_B6));
        try (ServerSocket local = new ServerSocket(PORT, 1, InetAddress.getByName("::1"))) {
            Future<?> accepted = servers.submit(() -> {
                local.accept().close();
                return null;
            });
            assertEquals(InetAddress.getByName("::1").getHostAddress(), probe(DUAL_STACK, "tcp", "::1"), "loopback stays loopback");
            accepted.get(30, TimeUnit.SECONDS);
        }
        assertTrue(SourceAddress.unpin(cgroup));
        assertEquals(Optional.empty(), SourceAddress.pinOf(cgroup));
    }

    @Test
    void aDirectoryThatIsNoCgroupIsNamed() {
        VipException e = assertThrows(VipException.class, () -> SourceAddress.pin(Path.of("/tmp"), InetAddress.getByName(VIP)));
        assertTrue(e.getMessage().contains("/tmp is not a cgroup v2 directory"), e.getMessage());
    }

    @Test
    void aProgramTheVerifierRejectsIsReportedWithItsLog() {
        byte[] noExit = new BpfInsn().movImm(BpfInsn.R0, 1).assemble();
        SyscallException e = assertThrows(SyscallException.class, () -> Bpf.loadProgram("pmig_bad", Bpf.PROG_TYPE_CGROUP_SOCK_ADDR,
            Bpf.CGROUP_INET4_CONNECT, noExit));
        assertTrue(e.getMessage().contains("BPF_PROG_LOAD(pmig_bad), verifier log: ") && e.getMessage().contains("exit"), e.getMessage());
    }

    /** {the probe's local address, the peer address B's server accepted}. */
    private List<String> tcpSourceSeenInB(String stack, String serverAddress) throws Exception {
        ServerSocket server = inB(() -> new ServerSocket(PORT, 1, InetAddress.getByName(serverAddress)));
        try (server) {
            Future<String> seen = servers.submit(() -> {
                try (Socket s = server.accept()) {
                    return s.getInetAddress().getHostAddress();
                }
            });
            String local = probe(stack, "tcp", serverAddress);
            return List.of(local, seen.get(30, TimeUnit.SECONDS));
        }
    }

    private String udpSourceSeenInB(String serverAddress) throws Exception {
        DatagramSocket server = inB(() -> new DatagramSocket(new InetSocketAddress(serverAddress, PORT)));
        try (server) {
            Future<String> seen = servers.submit((Callable<String>) () -> {
                DatagramPacket p = new DatagramPacket(new byte[16], 16);
                server.receive(p);
                return p.getAddress().getHostAddress();
            });
            probe(DUAL_STACK, "udp", serverAddress);
            return seen.get(30, TimeUnit.SECONDS);
        }
    }

    /** Runs {@link SourceProbe} ({@code stack}: the JDK's IPv4 or dual-stack sockets) in namespace A, moved into the cgroup before it starts; returns what it printed. */
    private String probe(String stack, String mode, String host) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder("sh", "-c", "echo $$ > " + cgroup.resolve("cgroup.procs") + " && exec ip netns exec " + nsA
            + " \"$0\" " + stack + " -cp \"$1\" " + SourceProbe.class.getName() + " " + mode + " " + host + " " + PORT,
            java, System.getProperty("java.class.path")).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the probe did not end");
        assertEquals(0, p.exitValue(), "probe " + mode + " " + host + ": " + out);
        return out;
    }
}
