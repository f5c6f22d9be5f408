package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * pmig lab up starts a pmigd in each node, with certificates of the lab's own CA; pmig status run
 * inside a node sees the other node reachable and authenticated; pmig lab down leaves nothing.
 * Lab pmig-daemontest, so that it never meets the lab tests' pmig-labtest.
 */
class DaemonLabTest {
    private static final String LAB = "pmig-daemontest";

    @BeforeEach
    void clean() {
        assumeTrue(LabCommandTest.isRoot(), "the lab needs root");
        new Lab(new LabLayout(LAB), new LabShell()).down();
    }

    @AfterEach
    void removeLab() {
        pmig("lab", "down");
    }

    private static Run pmig(String... args) {
        return LabTestSupport.run(Map.of(LabLayout.NAME_VARIABLE, LAB), null, args);
    }

    /** pmig itself inside a node, as an operator there runs it (its default control socket is the node's own). */
    private static Run pmigIn(String node, String... pmigArgs) {
        List<String> args = new ArrayList<>(List.of("lab", "exec", node, "--",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
                "io.pmig.cli.Pmig"));
        args.addAll(List.of(pmigArgs));
        return pmig(args.toArray(String[]::new));
    }

    @Test
    @Timeout(180)
    void eachNodeRunsAnAuthenticatedDaemonAndDownStopsThem() {
        Run up = pmig("lab", "up", "--json");
        assertEquals(ExitCodes.OK, up.exitCode(), up.toString());
        assertTrue(up.json().get("healthy").asBoolean(), up.out());
        List<Long> daemons = new ArrayList<>();
        for (JsonNode host : up.json().get("hosts")) {
            if (host.get("role").asText().equals("node")) {
                JsonNode daemon = host.get("daemon");
                assertTrue(daemon.get("running").asBoolean(), host.toString());
                daemons.add(daemon.get("pid").asLong());
            }
        }
        assertEquals(2, daemons.size());

        for (String[] pair : new String[][] {{"node-a", "node-b"}, {"node-b", "node-a"}}) {
            Run status = pmigIn(pair[0], "status", "--json");
            assertEquals(ExitCodes.OK, status.exitCode(), status.toString());
            JsonNode json = status.json();
            assertEquals(pair[0], json.get("node").asText(), "pmig in " + pair[0] + " reached " + pair[0] + "'s own daemon");
            assertEquals("tls", json.get("transport").asText());
            assertEquals(1, json.get("peers").size(), json.toString());
            JsonNode peer = json.get("peers").get(0);
            assertEquals(pair[1], peer.get("name").asText());
            assertEquals("ok", peer.get("state").asText(), peer.toString());
            assertTrue(peer.get("authenticated").asBoolean(), peer.toString());
            assertEquals(0, json.get("migrations").size());
        }
        Run text = pmigIn("node-a", "status");
        assertTrue(text.out().contains("node-b") && text.out().contains("ok (authenticated, encrypted"), text.out());

        Run labStatus = pmig("lab", "status");
        assertTrue(labStatus.out().contains("pmigd pid " + daemons.get(0)), labStatus.out());

        Run down = pmig("lab", "down", "--json");
        assertEquals(ExitCodes.OK, down.exitCode(), down.toString());
        assertEquals(2, down.json().get("stoppedDaemons").size(), down.out());
        for (long pid : daemons) {
            assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "pmigd pid " + pid + " is gone");
        }
        assertTrue(LabTestSupport.sh("pgrep -f '[i]o.pmig.daemon.Pmigd --config /run/" + LAB + "/' || true").isBlank(),
                "no pmigd of the lab runs");
        assertFalse(Files.exists(Path.of("/run", LAB)), "the state directory with the certificates is gone");
        assertTrue(LabTestSupport.sh("ip netns list | grep '^" + LAB + "-' || true").isBlank(), "no namespace of the lab is left");
    }
}
