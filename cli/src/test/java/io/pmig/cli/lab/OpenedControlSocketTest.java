package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.MAPPER;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import io.pmig.daemon.control.ControlClient;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * node-a's control socket opened to every user (control.socket.mode = 0666, the documented way to
 * let owners migrate their services), with root's stream-server on the VIP and its client
 * streaming: no user moves what is not theirs, and a migration is cancelled, by pmig migrate
 * --cancel or by Ctrl-C, with the normal rollback. The migrations are slow on purpose (a
 * bandwidth limit of 1 MB/s on 64 MB, sent uncompressed: the server's ballast would shrink to a few MB),
 * so that there is time to cancel them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenedControlSocketTest {
    private static final String VIP = StreamService.VIP;
    private static final int USER = 1000;
    private final LabNodes nodes = new LabNodes();
    private final LabDaemons daemons = new LabDaemons(new LabLayout(LabTestSupport.LAB), new LabShell());
    private String server;
    private Path requestSource;

    @BeforeAll
    void labWithOpenedSocketAndRootsServer() throws Exception {
        LabTestSupport.freshLab();
        nodes.reconfigure("node-a", "control.socket.mode = 0666");
        server = StreamService.startOnNodeA("256", "64");
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "pmig-opened-socket-",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        requestSource = dir.resolve("ControlRequest.java");
        try (InputStream in = OpenedControlSocketTest.class.getResourceAsStream("/ControlRequest.java")) {
            Files.write(requestSource, in.readAllBytes());
        }
    }

    @AfterAll
    void removeLab() throws Exception {
        LabTestSupport.removeLab();
        if (requestSource != null) {
            Files.deleteIfExists(requestSource);
            Files.deleteIfExists(requestSource.getParent());
        }
    }

    /** A user's server on root's VIP, and a user's process named with --vip: neither takes root's VIP along. */
    @Test
    @Timeout(180)
    void aUserCannotMoveTheVipOfAnotherUsersService() throws Exception {
        String addressesBefore = nodes.addresses("node-a");
        String usersServer = asUser("setsid " + StreamService.program("stream-server") + " " + VIP + " 7001 256 </dev/null"
            + " >/dev/null 2>&1 & echo $!");
        String usersSleep = asUser("setsid sleep 120 </dev/null >/dev/null 2>&1 & echo $!");
        try {
            for (int i = 0; i < 200 && !nodes.inNode("node-a", "ss", "-Htln", "sport = :7001").contains("7001"); i++) {
                Thread.sleep(20);
            }
            JsonNode alongside = requestAsUser("{\"op\":\"migrate\",\"pid\":" + usersServer + ",\"to\":\"node-b\"}");
            assertTrue(alongside.get("refused").asBoolean(), alongside.toString());
            assertTrue(alongside.get("error").asText().startsWith(VIP + " is also used on node-a by process " + server
                + " (stream-server, uid 0)"), alongside.toString());
            JsonNode named = requestAsUser("{\"op\":\"migrate\",\"pid\":" + usersSleep + ",\"to\":\"node-b\",\"vip\":\"" + VIP + "\"}");
            assertTrue(named.get("refused").asBoolean(), named.toString());
            assertEquals("process " + usersSleep + " has no socket bound to " + VIP + " on node-a: a user moves only a VIP their own"
                + " service uses (root may move any)", named.get("error").asText());
            JsonNode rootsProcess = requestAsUser("{\"op\":\"migrate\",\"pid\":" + server + ",\"to\":\"node-b\"}");
            assertTrue(rootsProcess.get("refused").asBoolean() && rootsProcess.get("error").asText().contains("only root or the owner"),
                rootsProcess.toString());
            nodes.assertServiceOn("node-a", server, VIP);
            assertEquals(addressesBefore, nodes.addresses("node-a"));
            assertFalse(nodes.exists("node-b", usersServer) || nodes.exists("node-b", usersSleep), "nothing arrived on node-b");
            String log = Files.readString(daemons.logFile("node-a"));
            assertTrue(log.contains("event=migration id=- uid=" + USER) && log.contains("pid=" + usersServer + " to=node-b vip=" + VIP
                + " outcome=refused"), "the refusal is logged with who asked, the process and the VIP");
        } finally {
            nodes.inNodeAttempt("node-a", "kill", usersServer, usersSleep);
        }
    }

    @Test
    @Timeout(240)
    void pmigMigrateCancelRollsBackAndTheClientKeepsItsConnection() throws Exception {
        StreamClient client = StreamService.client();
        CompletableFuture<Run> migration = CompletableFuture.supplyAsync(
            () -> pmigIn("node-a", "migrate", server, "--to", "node-b", "--bandwidth", "1", "--compress", "off", "--json"));
        String id = awaitPreCopy();
        JsonNode notTheirs = requestAsUser("{\"op\":\"cancel\",\"id\":\"" + id + "\"}");
        assertTrue(notTheirs.get("refused").asBoolean(), notTheirs.toString());
        assertEquals("uid " + USER + " may not cancel migration " + id + ", which uid 0 started: only root or that user may",
            notTheirs.get("error").asText());
        Run cancel = pmigIn("node-a", "migrate", "--cancel", id);
        assertEquals(ExitCodes.OK, cancel.exitCode(), cancel.toString());
        assertEquals("migration " + id + " was cancelled and rolled back: the process runs on at node-a", cancel.out().strip());
        Run run = migration.get();
        assertEquals(ExitCodes.FAILED, run.exitCode(), run.toString());
        String error = run.json().get("error").asText();
        assertTrue(error.contains("failed at pre-copy: the migration was cancelled by uid 0 (pmig migrate --cancel)")
            && error.contains("the process runs on here with " + VIP), error);
        assertRolledBack(id, client);
    }

    /** Ctrl-C: SIGINT to the JVM of pmig migrate, which closes its connection to the daemon as it exits. */
    @Test
    @Timeout(240)
    void ctrlCOnPmigMigrateRollsBackAndTheClientKeepsItsConnection() throws Exception {
        StreamClient client = StreamService.client();
        List<String> command = new ArrayList<>(List.of("nsenter", "--target", nodes.host("node-a").initPid().toString(), "--net",
            "--pid", "--mount", "--ipc", "--", Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
            System.getProperty("java.class.path"), "io.pmig.cli.Pmig", "migrate", server, "--to", "node-b", "--bandwidth", "1",
            "--compress", "off"));
        Process nsenter = new ProcessBuilder(command).redirectErrorStream(true).start();
        String id = awaitPreCopy();
        ProcessHandle pmigJvm = nsenter.toHandle().children().findFirst().orElseThrow();
        new ProcessBuilder("kill", "-INT", Long.toString(pmigJvm.pid())).start().waitFor();
        assertTrue(nsenter.waitFor(60, TimeUnit.SECONDS), "pmig migrate ended");
        String out = new String(nsenter.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(out.contains("pmig: interrupted: pmigd cancels the migration and rolls it back"), out);
        awaitNoMigration();
        assertRolledBack(id, client);
    }

    /** The migration's id once node-a's daemon reports it in pre-copy. */
    private String awaitPreCopy() throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            for (JsonNode m : status().path("migrations")) {
                if (m.path("phase").asText().equals("pre-copy")) {
                    return m.path("id").asText();
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no migration reached pre-copy on node-a: " + status());
    }

    private void awaitNoMigration() throws InterruptedException {
        for (int i = 0; i < 1200 && !status().path("migrations").isEmpty(); i++) {
            Thread.sleep(50);
        }
        assertTrue(status().path("migrations").isEmpty(), status().toString());
    }

    private JsonNode status() {
        return new ControlClient(LabDaemons.socketFromHost(nodes.host("node-a").initPid())).call(ControlClient.request("status"));
    }

    private void assertRolledBack(String id, StreamClient client) throws Exception {
        nodes.assertServiceOn("node-a", server, VIP);
        String verdict = client.verdict();
        assertTrue(verdict.startsWith("PASS"), "the client's stream went on: " + verdict);
        String log = Files.readString(daemons.logFile("node-a"));
        assertTrue(log.contains("event=migration id=" + id + " uid=0") && log.contains("pid=" + server + " to=node-b vip=" + VIP
            + " outcome=cancelled"), "the cancelled migration is logged with who asked, the process, the VIP and the outcome");
        assertTrue(Files.readString(daemons.logFile("node-b")).contains("event=migration-arrival id=" + id + " pid=" + server + " vip="
            + VIP + " outcome=aborted"), "and on node-b as aborted");
        assertTrue(status().path("migrations").isEmpty(), "no migration left running");
        assertTrue(new ControlClient(LabDaemons.socketFromHost(nodes.host("node-b").initPid())).call(ControlClient.request("status"))
            .path("migrations").isEmpty(), "none left on node-b");
    }

    /** Runs a shell command in node-a as user {@value #USER}; returns its output. */
    private String asUser(String script) {
        return nodes.inNode("node-a", "setpriv", "--reuid=" + USER, "--regid=" + USER, "--clear-groups", "sh", "-c", script).strip();
    }

    /** Sends one request to node-a's daemon as user {@value #USER}; returns its answer. */
    private JsonNode requestAsUser(String json) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String answer = nodes.inNode("node-a", "setpriv", "--reuid=" + USER, "--regid=" + USER, "--clear-groups", java,
            "-Xshare:auto", "-XX:TieredStopAtLevel=1", requestSource.toString(), LabDaemons.SOCKET.toString(), json).strip();
        return MAPPER.readTree(answer);
    }

}
