package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.down;
import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmig;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Daemons dying in the middle of a migration: afterwards exactly one copy of the service runs, on
 * the node whose VIP answers, its client's connection survives, and no frozen or half-restored
 * process is left. The service holds 300 MB so that its transfer lasts long enough to be hit.
 */
class MigrationFaultsTest {
    private static final String VIP = StreamService.VIP;
    private final Lab lab = new Lab(new LabLayout(LabTestSupport.LAB), new LabShell());
    private final LabDaemons daemons = new LabDaemons(new LabLayout(LabTestSupport.LAB), new LabShell());
    private String server;

    @BeforeEach
    void labWithABigServer() throws Exception {
        assumeTrue(LabCommandTest.isRoot(), "the lab needs root");
        lab.down();
        Run up = pmig("lab", "up");
        assertEquals(ExitCodes.OK, up.exitCode(), up.toString());
        server = StreamService.startOnNodeA("256", "300");
    }

    @AfterEach
    void removeLab() {
        down();
    }

    @Test
    @Timeout(240)
    void theDestinationDaemonKilledDuringTheTransfer() throws Exception {
        CompletableFuture<String> client = StreamService.client("25");
        Thread.sleep(1500);
        CompletableFuture<Run> migration = CompletableFuture.supplyAsync(() -> pmigIn("node-a", "migrate", server, "--to", "node-b", "--json"));
        awaitProcess("node-b", server);
        killDaemon("node-b");
        Run run = migration.get();
        assertEquals(ExitCodes.FAILED, run.exitCode(), run.toString());
        assertTrue(run.json().get("error").textValue().contains("the process runs on here with " + VIP), run.out());
        awaitGone("node-b", server);
        // node-b keeps the VIP it had taken silently until its daemon is back, and does not answer for it
        assertEquals("stream-server", exec("node-a", "cat", "/proc/" + server + "/comm").strip(), "the service runs on node-a");
        assertTrue(addresses("node-a").contains(VIP), "the VIP is on node-a");
        String arp = exec("client", "arping", "-c", "2", "-w", "3", "-I", "eth0", VIP);
        assertTrue(arp.contains(mac("node-a").toUpperCase()) && !arp.contains(mac("node-b").toUpperCase()), "only node-a answers: " + arp);
        daemons.restart(host("node-b"));
        assertFalse(addresses("node-b").contains(VIP), "the restarted daemon gave up the VIP node-b had taken silently");
        String verdict = client.get();
        assertTrue(verdict.startsWith("PASS"), "client: " + verdict);
        assertServiceOn("node-a");
    }

    @Test
    @Timeout(240)
    void theSourceDaemonKilledWhileTheProcessIsFrozen() throws Exception {
        CompletableFuture<String> client = StreamService.client("30");
        Thread.sleep(1500);
        CompletableFuture<Run> migration = CompletableFuture.supplyAsync(() -> pmigIn("node-a", "migrate", server, "--to", "node-b", "--json"));
        awaitProcess("node-b", server);
        killDaemon("node-a");
        Run run = migration.get();
        assertNotEquals(ExitCodes.OK, run.exitCode(), run.toString());
        awaitGone("node-b", server);
        daemons.restart(host("node-a"));
        assertServiceOn("node-a");
        String verdict = client.get();
        assertTrue(verdict.startsWith("PASS"), "client (its connection out of repair mode again): " + verdict);
    }

    private void assertServiceOn(String node) throws Exception {
        String other = node.equals("node-a") ? "node-b" : "node-a";
        assertEquals("stream-server", exec(node, "cat", "/proc/" + server + "/comm").strip(), "the service runs on " + node);
        assertFalse(exec(node, "cat", "/proc/" + server + "/status").contains("tracing stop"), "and is not frozen");
        assertEquals("", exec(other, "sh", "-c", "ls /proc | grep -x " + server + " || true").strip(), "no copy on " + other);
        assertTrue(addresses(node).contains(VIP), "the VIP is on " + node);
        assertFalse(addresses(other).contains(VIP), "the VIP is not on " + other);
    }

    private LabState.Host host(String name) {
        return lab.state().orElseThrow().hosts().stream().filter(h -> h.name().equals(name)).findFirst().orElseThrow();
    }

    private void killDaemon(String node) {
        long pid = daemons.pid(host(node)).orElseThrow(() -> new AssertionError("no pmigd runs on " + node));
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        for (int i = 0; i < 500 && ProcessHandle.of(pid).isPresent(); i++) {
            sleep(10);
        }
    }

    /** Waits until {@code pid} exists on {@code node}: on the destination, the transfer has begun. */
    private void awaitProcess(String node, String pid) {
        for (int i = 0; i < 20_000; i++) {
            if (exists(node, pid)) {
                return;
            }
        }
        throw new AssertionError("process " + pid + " never appeared on " + node);
    }

    private void awaitGone(String node, String pid) {
        for (int i = 0; i < 200; i++) {
            if (!exists(node, pid)) {
                return;
            }
            sleep(50);
        }
        throw new AssertionError("process " + pid + " is still on " + node);
    }

    /** Looks into the node's PID namespace from here (nsenter: milliseconds, where pmig lab exec starts a JVM). */
    private boolean exists(String node, String pid) {
        return new LabShell().attempt("nsenter", "--target", host(node).initPid().toString(), "--pid", "--mount", "--",
            "test", "-d", "/proc/" + pid).exitCode() == 0;
    }

    private static String mac(String node) {
        return exec(node, "cat", "/sys/class/net/eth0/address").strip();
    }

    private static String addresses(String node) {
        return exec(node, "ip", "-o", "addr", "show", "dev", "eth0");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
