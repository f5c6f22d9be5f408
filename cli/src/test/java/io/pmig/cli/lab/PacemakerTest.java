package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Debian's corosync and Pacemaker run in the lab's two nodes (each in its namespaces, on the lab bridge) with a pmig
 * service as an {@code ocf:pmig:service} resource, allow-migrate=true: putting node-a in standby makes Pacemaker
 * move the service to node-b live, through the agent's migrate_to and migrate_from, while a client streams from it
 * and checks every byte.
 */
class PacemakerTest {
    private static final Path AGENT = Path.of("/usr/lib/ocf/resource.d/pmig/service");
    private static final Path COROSYNC_LOCK = Path.of("/run/corosync.pid");

    @TempDir
    Path dir;

    private byte[] agentBefore;
    private boolean lockBefore;

    @BeforeEach
    void cluster() throws IOException {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/pacemakerd")) && Files.isExecutable(Path.of("/usr/sbin/corosync")),
            "pacemaker and corosync are installed by scripts/install-deps");
        lockBefore = Files.exists(COROSYNC_LOCK);
        agentBefore = Files.exists(AGENT) ? Files.readAllBytes(AGENT) : null;
        Files.createDirectories(AGENT.getParent());
        Files.copy(Path.of("..", "pacemaker", "service"), AGENT, StandardCopyOption.REPLACE_EXISTING);
        LabTestSupport.freshLab();
    }

    @AfterEach
    void removeCluster() throws IOException {
        LabTestSupport.removeLab();                                                 // the nodes' PID namespaces end corosync and Pacemaker
        if (agentBefore == null) {
            Files.deleteIfExists(AGENT);
            Files.deleteIfExists(AGENT.getParent());
        } else {
            Files.write(AGENT, agentBefore);
        }
        if (!lockBefore) {
            Files.deleteIfExists(COROSYNC_LOCK);
        }
    }

    @Test
    @Timeout(360)
    void aNodeGoingToStandbyMovesItsServiceLiveToTheOtherNode() throws Exception {
        String server = StreamService.startOnNodeA("64");
        Run added = pmigIn("node-a", "service", "add", "stream", "--pid", server, "--vip", StreamService.VIP + "/24");
        assertEquals(ExitCodes.OK, added.exitCode(), added.toString());

        Path nodeScript = resource("pacemaker-node.sh");
        for (String node : new String[] {"node-a", "node-b"}) {
            exec(node, "sh", nodeScript.toString(), node, "node-a=10.77.0.11", "node-b=10.77.0.12");
        }
        await("both nodes online in Pacemaker", () -> inNode("node-a", "crm_mon", "-1").contains("Online: [ node-a node-b ]"));
        exec("node-a", "crm_attribute", "--type", "crm_config", "--name", "stonith-enabled", "--update", "false");
        exec("node-a", "cibadmin", "--create", "--scope", "resources", "--xml-text", resourceXml(pmigCommand()));

        await("Pacemaker finds the service running on node-a", () -> locate().contains("running on: node-a"));
        StreamClient client = StreamService.client();
        exec("node-a", "crm_attribute", "--node", "node-a", "--name", "standby", "--update", "on");

        await("Pacemaker has the service on node-b", () -> locate().contains("running on: node-b"));
        assertEquals(0, pmigIn("node-b", "service", "status", "stream").exitCode(), "the service runs on node-b");
        String log = exec("node-a", "sh", "-c", "grep -h 'pmig-stream' /var/log/pacemaker/pacemaker.log || true");
        assertTrue(log.contains("migrate_to"), "Pacemaker moved it live (migrate_to), not by stop and start:\n" + log);
        assertEquals("", exec("node-a", "sh", "-c", "pgrep -x stream-server || true").strip(), "nothing of it runs on node-a");
        String verdict = client.verdict();
        assertTrue(verdict.startsWith("PASS"), "the client saw every byte and no reset: " + verdict);
    }

    private String pmigCommand() throws IOException {
        // the agent runs pmig as an operator's node would: this build's, inside the node Pacemaker calls it on
        Path pmig = dir.resolve("pmig");
        Files.writeString(pmig, "#!/bin/sh\nexec " + Path.of(System.getProperty("java.home"), "bin", "java") + " -XX:-UsePerfData -cp "
            + System.getProperty("java.class.path") + " io.pmig.cli.Pmig \"$@\"\n");
        Files.setPosixFilePermissions(pmig, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        return pmig.toString();
    }

    private static String resourceXml(String pmig) {
        return "<primitive id=\"pmig-stream\" class=\"ocf\" provider=\"pmig\" type=\"service\">"
            + "<instance_attributes id=\"pmig-stream-params\">"
            + "<nvpair id=\"pmig-stream-service\" name=\"service\" value=\"stream\"/>"
            + "<nvpair id=\"pmig-stream-pmig\" name=\"pmig\" value=\"" + pmig + "\"/>"
            + "</instance_attributes>"
            + "<meta_attributes id=\"pmig-stream-meta\">"
            + "<nvpair id=\"pmig-stream-allow-migrate\" name=\"allow-migrate\" value=\"true\"/>"
            + "</meta_attributes>"
            + "<operations><op id=\"pmig-stream-monitor\" name=\"monitor\" interval=\"5s\" timeout=\"20s\"/></operations>"
            + "</primitive>";
    }

    private static String locate() {
        return inNode("node-a", "crm_resource", "--locate", "--resource", "pmig-stream");
    }

    /** The output of {@code command} in {@code node}, whatever its exit code (the cluster may not answer yet). */
    private static String inNode(String node, String... command) {
        return LabTestSupport.inHost(node, List.of(command)).out();
    }

    private Path resource(String name) throws IOException {
        Path file = dir.resolve(name);
        try (InputStream in = PacemakerTest.class.getResourceAsStream(name)) {
            Files.copy(in, file);
        }
        return file;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 240; i++) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(500);
        }
        assertTrue(condition.getAsBoolean(), "waited 2 minutes for: " + what + "\n" + inNode("node-a", "crm_mon", "-1"));
    }
}
