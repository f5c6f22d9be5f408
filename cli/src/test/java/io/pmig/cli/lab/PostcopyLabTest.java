package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Post-copy between the daemons (pmig migrate --postcopy): the copy runs before every page arrived and fetches the rest
 * over the peer link. Moved whole, the service keeps its client's stream; with the source daemon killed while pages are
 * still there, the copy is killed (it cannot go on without them), the original too once the restarted daemon learns the
 * copy ran: nothing runs twice, and the failure is reported.
 */
@ExtendWith(FreshLab.class)
class PostcopyLabTest {
    private static final String VIP = StreamService.VIP;
    private final LabNodes nodes = new LabNodes();

    @Test
    @Timeout(240)
    void aPostcopyMoveKeepsTheServiceAndReportsThePostcopy() throws Exception {
        String server = StreamService.startOnNodeA("256", "64");
        StreamClient client = StreamService.client();
        Run run = pmigIn("node-a", "migrate", server, "--to", "node-b", "--postcopy", "always", "--json");
        assertEquals(ExitCodes.OK, run.exitCode(), run.toString());
        JsonNode postcopy = run.json().path("postcopy");
        assertEquals("always", postcopy.path("mode").asText(), run.out());
        assertTrue(postcopy.path("ran").asBoolean(), run.out());
        assertEquals(postcopy.path("pagesLeftBehind").asLong(), postcopy.path("pagesOnFault").asLong()
            + postcopy.path("pagesPushed").asLong(), "every page left behind was sent once: " + run.out());
        nodes.awaitGone("node-a", server);
        nodes.assertServiceOn("node-b", server, VIP);
        String verdict = client.verdict();
        assertTrue(verdict.startsWith("PASS"), "client: " + verdict);
    }

    @Test
    @Timeout(240)
    void theSourceDaemonKilledDuringPostcopy() throws Exception {
        String server = StreamService.startOnNodeA("256", "16");
        CompletableFuture<Run> migration = migrateUntilThePostcopyPause(server);
        nodes.killDaemon("node-a");
        Run run = migration.get();
        assertNotEquals(ExitCodes.OK, run.exitCode(), run.toString());
        // the copy ran without the pages still at the source: with its link gone, it is killed and says so
        nodes.awaitLogged("node-b", "migration-postcopy-failed", 1);
        nodes.awaitGone("node-b", server);
        nodes.restartDaemon("node-a");
        // the restarted source learns the copy ran: the original never runs again
        nodes.awaitLogged("node-a", "migration-settled", 1);
        nodes.awaitGone("node-a", server);
    }

    /**
     * The destination's daemon dies while the copy runs without pages still at the source: the source, its link gone,
     * kills the original and says the service is down; the copy, which cannot go on (it keeps its missing pages
     * registered: they never read as zeros), is killed by the restarted daemon, whose journal says "postcopy".
     */
    @Test
    @Timeout(240)
    void theDestinationDaemonKilledDuringPostcopy() throws Exception {
        String server = StreamService.startOnNodeA("256", "16");
        CompletableFuture<Run> migration = migrateUntilThePostcopyPause(server);
        nodes.killDaemon("node-b");
        Run run = migration.get();
        assertEquals(ExitCodes.FAILED, run.exitCode(), run.toString());
        assertTrue(run.json().get("error").textValue().contains("the service is down"), run.out());
        nodes.awaitGone("node-a", server);
        nodes.restartDaemon("node-b");
        nodes.awaitLogged("node-b", "migration-recovered", 1);
        nodes.awaitGone("node-b", server);
    }

    /**
     * Starts moving {@code server} (with a client's traffic: the copy touches memory as it runs) with post-copy, node-a
     * pausing once the copy runs and before it pushes the pages left behind; returns once the pause began.
     */
    private CompletableFuture<Run> migrateUntilThePostcopyPause(String server) throws Exception {
        nodes.reconfigure("node-a", "debug.pause.at = postcopy", "debug.pause.millis = 3000");
        StreamService.client();
        CompletableFuture<Run> migration = CompletableFuture.supplyAsync(() -> pmigIn("node-a", "migrate", server, "--to", "node-b",
            "--postcopy", "always", "--json"));
        nodes.awaitLogged("node-a", "fault-pause", 1);
        nodes.awaitProcess("node-b", server);
        return migration;
    }
}
