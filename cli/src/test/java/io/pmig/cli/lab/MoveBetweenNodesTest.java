package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Moving a socket by hand (README): a stream-server bound to a VIP on node-a, a stream-client in
 * the client host checking every byte, and the server moved to node-b with pmig checkpoint, the VIP
 * moved with ip addr and a gratuitous ARP, and pmig restore, while inbound VIP packets are dropped
 * on both nodes. The client must see no reset, no EOF and no wrong byte.
 */
@ExtendWith(FreshLab.class)
class MoveBetweenNodesTest {
    private static final String VIP = StreamService.VIP;
    private static final String PORT = StreamService.PORT;
    @TempDir
    Path tmp;

    @RepeatedTest(2)
    @Timeout(120)
    void aStreamingClientKeepsItsConnection() throws Exception {
        assertClientPasses(moveWhileClientRuns("2048", List.of()));
    }

    @Test
    @Timeout(180)
    void aThousandConnectionsSurvive() throws Exception {
        String verdict = moveWhileClientRuns("4", List.of("--connections", "1000", "--rate", "4"));
        assertClientPasses(verdict);
        assertTrue(verdict.contains("connections=1000"), verdict);
    }

    @RepeatedTest(2)
    @Timeout(120)
    void aLockStepClientKeepsItsConnection() throws Exception {
        assertClientPasses(moveWhileClientRuns("2048", List.of("--lockstep")));
    }

    /** Restoring before the VIP is on the destination is refused, and nothing is created there. */
    @Test
    @Timeout(120)
    void aRestoreWithoutTheVipIsRefused() throws Exception {
        String server = StreamService.startOnNodeA();
        Path image = tmp.resolve("image");
        Run checkpoint = pmigIn("node-a", "checkpoint", server, "--dir", image.toString(), "--leave-running");
        assertEquals(ExitCodes.OK, checkpoint.exitCode(), checkpoint.toString());

        Run restore = pmigIn("node-b", "restore", "--dir", image.toString());
        assertEquals(ExitCodes.REFUSED, restore.exitCode(), restore.toString());
        assertTrue(restore.err().contains(VIP) && restore.err().contains("VIP"), restore.err());
        assertEquals("", exec("node-b", "sh", "-c", "ls /proc | grep -x " + server + " || true").strip(), "no process was created");
    }

    private static void assertClientPasses(String verdict) {
        assertTrue(verdict.startsWith("PASS"), "client: " + verdict);
    }

    /** Returns the client's verdict line; the server streams {@code serverRate} KB/s to each connection. */
    private String moveWhileClientRuns(String serverRate, List<String> clientArgs) throws Exception {
        String server = StreamService.startOnNodeA(serverRate);
        StreamClient client = StreamService.client(clientArgs.toArray(String[]::new));

        Path image = tmp.resolve("image");
        String restored;
        hold("node-a");
        hold("node-b");
        try {
            Run checkpoint = pmigIn("node-a", "checkpoint", server, "--dir", image.toString(), "--json");
            assertEquals(ExitCodes.OK, checkpoint.exitCode(), checkpoint.toString());
            exec("node-a", "ip", "addr", "del", VIP + "/24", "dev", "eth0");
            exec("node-b", "ip", "addr", "add", VIP + "/24", "dev", "eth0");
            exec("node-b", "arping", "-U", "-c", "1", "-I", "eth0", VIP);
            Run restore = pmigIn("node-b", "restore", "--dir", image.toString(), "--new-pid-namespace", "--json");
            assertEquals(ExitCodes.OK, restore.exitCode(), restore.toString());
            restored = restore.json().get("pid").asText();
        } finally {
            release("node-b");
            release("node-a");
        }
        assertEquals("stream-server", exec("node-b", "cat", "/proc/" + restored + "/comm").strip(), "the server runs on node-b");
        assertTrue(exec("node-b", "grep", "^NSpid:", "/proc/" + restored + "/status").strip().endsWith("\t" + server),
            "with the same pid inside its namespace");
        return client.verdict();
    }

    /** Drops inbound packets for the VIP's port on a node: nothing may answer for the service while it moves. */
    private static void hold(String node) {
        exec(node, "nft", "add", "table", "ip", "pmigmove");
        exec(node, "nft", "add", "chain", "ip", "pmigmove", "in", "{ type filter hook input priority 0; }");
        exec(node, "nft", "add", "rule", "ip", "pmigmove", "in", "ip", "daddr", VIP, "tcp", "dport", PORT, "drop");
    }

    private static void release(String node) {
        LabTestSupport.inHost(node, List.of("nft", "delete", "table", "ip", "pmigmove"));
    }
}
