package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Syscall;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Timeout;

/**
 * A server with two TCP connections (IPv4 and IPv6 loopback) and two listeners, streaming both
 * ways with a peer process, is checkpointed and restored while the data flows; the peer must see
 * no reset, no EOF and no lost, duplicated or reordered byte. It all happens in a network
 * namespace of the test's own: this thread joins it (setns is per thread, and what it starts
 * inherits it), and an nftables rule there holds the peer's packets while the server is away,
 * which a real move does with the VIP.
 */
class TcpContinuityTest extends ItSupport {
    private static final int SETNS = 308;
    private static final int CLONE_NEWNET = 0x40000000;
    private final String netns = "pmig-tcptest-" + ProcessHandle.current().pid();
    private int homeNetns = -1;

    @BeforeEach
    void enterOwnNetworkNamespace() throws Exception {
        assumeRoot();
        run("ip", "netns", "add", netns);
        homeNetns = Linux.open("/proc/thread-self/ns/net", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        int target = Linux.open("/run/netns/" + netns, Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            Syscall.call("setns(" + netns + ")", SETNS, target, CLONE_NEWNET);
        } finally {
            Linux.close(target);
        }
        run("ip", "link", "set", "lo", "up");
    }

    @AfterEach
    void leaveAndRemoveNamespace() throws Exception {
        killEverything();
        if (homeNetns >= 0) {
            Syscall.call("setns(home)", SETNS, homeNetns, CLONE_NEWNET);
            Linux.close(homeNetns);
            homeNetns = -1;
        }
        run("ip", "netns", "del", netns);
    }

    @RepeatedTest(3)
    @Timeout(90)
    void connectionsSurviveACheckpointAndRestoreWhileDataFlows() throws Exception {
        TestProgram server = startReady("tcp_stream");
        String[] ports = Files.readString(server.stateDir().resolve("ports")).trim().split(" ");
        Path image = imageDir("tcp");
        holdInbound(ports);
        try {
            checkpoint(server, image, false);
            restore(server, image);
        } finally {
            run("nft", "delete", "table", "inet", "pmigtest");
        }
        goExpectPassAndExit(server);
    }

    /** Connections waiting in a listener's accept queue cannot be saved: the checkpoint lets the server take them first. */
    @RepeatedTest(2)
    @Timeout(90)
    void connectionsNotYetAcceptedAreTakenBeforeTheCheckpoint() throws Exception {
        TestProgram server = startReady("tcp_backlog");
        String[] ports = Files.readString(server.stateDir().resolve("ports")).trim().split(" ");
        Path image = imageDir("backlog");
        holdInbound(ports);
        try {
            checkpoint(server, image, false);
            restore(server, image);
        } finally {
            run("nft", "delete", "table", "inet", "pmigtest");
        }
        goExpectPassAndExit(server);
    }

    /** A connection this side half-closed (FIN_WAIT2) and one the peer half-closed (CLOSE_WAIT) go on after a restore. */
    @RepeatedTest(2)
    @Timeout(90)
    void halfClosedConnectionsCloseAsTheyWould() throws Exception {
        TestProgram server = startReady("tcp_halfclose");
        String[] ports = Files.readString(server.stateDir().resolve("ports")).trim().split(" ");
        Path image = imageDir("halfclose");
        holdInbound(ports);
        try {
            checkpoint(server, image, false);
            restore(server, image);
        } finally {
            run("nft", "delete", "table", "inet", "pmigtest");
        }
        goExpectPassAndExit(server);
    }

    private static void holdInbound(String[] ports) throws Exception {
        run("nft", "add", "table", "inet", "pmigtest");
        run("nft", "add", "chain", "inet", "pmigtest", "in", "{ type filter hook input priority 0; }");
        run("nft", "add", "rule", "inet", "pmigtest", "in", "tcp", "dport", "{ " + String.join(", ", ports) + " }", "drop");
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }
}
