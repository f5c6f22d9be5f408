package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.Syscall;

import java.io.IOException;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Integration tests with sockets run in a network namespace of their own, which the test thread
 * joins: setns is per thread, and the engine works on this thread and what it starts inherits
 * the namespace. Loopback is all the traffic; nftables rules live and die with the namespace.
 */
abstract class NetworkNamespaceSupport extends ItSupport {
    private static final int SETNS = 308;
    private static final int CLONE_NEWNET = 0x40000000;
    private final String netns = "pmig-it-" + getClass().getSimpleName().toLowerCase() + "-" + ProcessHandle.current().pid();
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

    /** Programs first, while still in the namespace; then back home and the namespace goes. */
    @AfterEach
    void leaveAndRemoveNamespace() throws Exception {
        try {
            beforeLeaving();
            killEverything();
        } finally {
            if (homeNetns >= 0) {
                Syscall.call("setns(home)", SETNS, homeNetns, CLONE_NEWNET);
                Linux.close(homeNetns);
                homeNetns = -1;
            }
            run("ip", "netns", "del", netns);
        }
    }

    /** What a test class stops besides its programs (peers it started), before the namespace goes. */
    void beforeLeaving() throws Exception {
    }

    /** Drops inbound {@code protocol} ("tcp", "udp") packets to {@code ports}, as a move holds a service's traffic. */
    static void holdInbound(String protocol, String... ports) throws Exception {
        run("nft", "add", "table", "inet", "pmigtest");
        run("nft", "add", "chain", "inet", "pmigtest", "in", "{ type filter hook input priority 0; }");
        run("nft", "add", "rule", "inet", "pmigtest", "in", protocol, "dport", "{ " + String.join(", ", ports) + " }", "drop");
    }

    static void releaseInbound() throws Exception {
        run("nft", "delete", "table", "inet", "pmigtest");
    }

    static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }
}
