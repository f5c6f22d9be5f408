package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Daemons dying, and the network between them cut, in the middle of a migration: afterwards
 * exactly one copy of the service runs, on the node whose VIP answers, its client's connection
 * survives, and no frozen or half-restored process is left. To hit a step exactly, a daemon is
 * configured to pause there (debug.pause.at) and the fault strikes during the pause.
 */
@ExtendWith(FreshLab.class)
class MigrationFaultsTest {
    private static final String VIP = StreamService.VIP;
    /** Short, so that a cut is noticed within a test's patience; heartbeats go out every quarter of it. */
    private static final String SILENCE = "limits.peer.silence.millis = 1500";
    private static final String PAUSE_MILLIS = "debug.pause.millis = 2000";
    private final LabNodes nodes = new LabNodes();

    /** Before the lab goes ({@link FreshLab}): the network between the nodes whole again. */
    @AfterEach
    void heal() {
        nodes.heal();
    }

    /** A 300 MB service, so that its transfer lasts long enough to be hit. */
    @Test
    @Timeout(240)
    void theDestinationDaemonKilledDuringTheTransfer() throws Exception {
        String server = StreamService.startOnNodeA("256", "300");
        StreamClient client = StreamService.client();
        CompletableFuture<Run> migration = migrate(server);
        nodes.awaitProcess("node-b", server);
        nodes.killDaemon("node-b");
        Run run = migration.get();
        assertEquals(ExitCodes.FAILED, run.exitCode(), run.toString());
        assertTrue(run.json().get("error").textValue().contains("the process runs on here with " + VIP), run.out());
        nodes.awaitGone("node-b", server);
        // node-b keeps the VIP it had taken silently until its daemon is back, and does not answer for it
        assertEquals("stream-server", exec("node-a", "cat", "/proc/" + server + "/comm").strip(), "the service runs on node-a");
        assertTrue(nodes.addresses("node-a").contains(VIP), "the VIP is on node-a");
        String arp = exec("client", "arping", "-c", "2", "-w", "3", "-I", "eth0", VIP);
        assertTrue(arp.contains(nodes.mac("node-a")) && !arp.contains(nodes.mac("node-b")), "only node-a answers: " + arp);
        nodes.restartDaemon("node-b");
        assertFalse(nodes.addresses("node-b").contains(VIP), "the restarted daemon gave up the VIP node-b had taken silently");
        assertPasses(client);
        nodes.assertServiceOn("node-a", server, VIP);
    }

    @Test
    @Timeout(240)
    void theSourceDaemonKilledWhileTheProcessIsFrozen() throws Exception {
        String server = StreamService.startOnNodeA("256", "300");
        StreamClient client = StreamService.client();
        CompletableFuture<Run> migration = migrate(server);
        nodes.awaitProcess("node-b", server);
        nodes.killDaemon("node-a");
        Run run = migration.get();
        assertNotEquals(ExitCodes.OK, run.exitCode(), run.toString());
        nodes.awaitGone("node-b", server);
        nodes.restartDaemon("node-a");
        nodes.assertServiceOn("node-a", server, VIP);
        assertPasses(client);
    }

    /**
     * The destination's daemon dies once the copy is restored, before the commit: the copy dies
     * with it. The source cannot learn whether the commit arrived until the daemon is back, and
     * keeps the original stopped until then; told "aborted", it takes the service back.
     */
    @Test
    @Timeout(240)
    void theDestinationDaemonKilledAfterTheRestoreBeforeTheCommit() throws Exception {
        nodes.reconfigure("node-a", "debug.pause.at = commit", PAUSE_MILLIS);
        String server = StreamService.startOnNodeA("256", "16");
        StreamClient client = StreamService.client();
        CompletableFuture<Run> migration = migrate(server);
        nodes.awaitLogged("node-a", "fault-pause", 1);
        nodes.killDaemon("node-b");
        nodes.awaitGone("node-b", server);
        nodes.restartDaemon("node-b");
        Run run = migration.get();
        assertEquals(ExitCodes.FAILED, run.exitCode(), run.toString());
        assertTrue(run.json().get("error").textValue().contains("discarded its copy"), run.out());
        nodes.assertServiceOn("node-a", server, VIP);
        assertPasses(client);
    }

    /**
     * The network between the daemons cut while a daemon pauses at {@code step} on {@code node},
     * healed {@code healAfterMillis} later: the service ends up on {@code endsOn}, and the
     * migration reports success exactly when it moved.
     */
    @ParameterizedTest(name = "cut at {0} on {1}: the service ends on {2}")
    @CsvSource({
        "pre-copy,      node-a, node-a, 0",
        "frozen,        node-a, node-a, 0",
        "switch,        node-b, node-a, 0",
        "commit,        node-a, node-a, 4000",
        "commit-answer, node-b, node-b, 4000",
        "settle,        node-a, node-b, 0",
    })
    @Timeout(240)
    void aCutBetweenTheDaemons(String step, String node, String endsOn, long healAfterMillis) throws Exception {
        Map<String, List<String>> config = new HashMap<>(Map.of("node-a", List.of(SILENCE), "node-b", List.of(SILENCE)));
        config.put(node, List.of(SILENCE, "debug.pause.at = " + step, PAUSE_MILLIS));
        nodes.reconfigure(config);
        String server = StreamService.startOnNodeA("256", "16");
        StreamClient client = StreamService.client();
        CompletableFuture<Run> migration = migrate(server);
        nodes.awaitLogged(node, "fault-pause", 1);
        nodes.cut();
        if (healAfterMillis > 0) {
            Thread.sleep(healAfterMillis);
            nodes.heal();
        }
        Run run = migration.get();
        nodes.heal();
        assertEquals(endsOn.equals("node-b") ? ExitCodes.OK : ExitCodes.FAILED, run.exitCode(), run.toString());
        if (endsOn.equals("node-a")) {
            assertTrue(run.json().get("error").textValue().contains("runs on here with " + VIP), run.out());
        } else {
            assertTrue(run.json().get("notes").toString().contains("finished the VIP's move alone"), run.out());
        }
        String other = endsOn.equals("node-a") ? "node-b" : "node-a";
        nodes.awaitGone(other, server);
        nodes.assertServiceOn(endsOn, server, VIP);
        assertPasses(client);
    }

    /**
     * The commit's answer lost and the destination out of reach for longer than
     * limits.outcome.wait.millis: the command gives up, the original stays stopped (the copy might
     * run), and once the network is back the daemon learns the outcome and lets the original go on.
     */
    @Test
    @Timeout(240)
    void anUndecidedCommitWaitsForTheDestination() throws Exception {
        nodes.reconfigure(Map.of("node-a", List.of(SILENCE, "limits.outcome.wait.millis = 2000", "debug.pause.at = commit", PAUSE_MILLIS),
            "node-b", List.of(SILENCE)));
        String server = StreamService.startOnNodeA("256", "16");
        StreamClient client = StreamService.client();
        CompletableFuture<Run> migration = migrate(server);
        nodes.awaitLogged("node-a", "fault-pause", 1);
        nodes.cut();
        Run run = migration.get();
        assertEquals(ExitCodes.FAILED, run.exitCode(), run.toString());
        assertTrue(run.json().get("error").textValue().contains("stays stopped here"), run.out());
        assertTrue(nodes.isStopped("node-a", server), "the original waits, stopped");
        assertFalse(nodes.exists("node-b", server), "node-b discarded its copy, which was never told to run");
        assertTrue(pmigIn("node-a", "status").out().contains("awaiting-outcome"), "pmig status shows the undecided migration");
        nodes.heal();
        nodes.awaitLogged("node-a", "migration-settled", 1);
        nodes.assertServiceOn("node-a", server, VIP);
        assertPasses(client);
    }

    private static CompletableFuture<Run> migrate(String server) {
        return CompletableFuture.supplyAsync(() -> pmigIn("node-a", "migrate", server, "--to", "node-b", "--json"));
    }

    private static void assertPasses(StreamClient client) throws Exception {
        String verdict = client.verdict();
        assertTrue(verdict.startsWith("PASS"), "client: " + verdict);
    }
}
