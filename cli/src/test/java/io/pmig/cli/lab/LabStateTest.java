package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.checkpoint.RefusedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabStateTest {
    @Test
    void writesAndReadsTheStateFile(@TempDir Path dir) throws Exception {
        LabLayout layout = new LabLayout("pmig-lab");
        List<LabState.Host> hosts = new ArrayList<>(layout.plan(2, Subnet.parse("10.77.0.0/24"), false));
        hosts.set(0, hosts.get(0).withInit(4242, 777));
        hosts.set(1, hosts.get(1).withInit(4243, 778));
        LabState state = new LabState(LabState.VERSION, "pmig-lab", "10.77.0.0/24", "pmig-lab-switch", "br0", hosts);
        Path file = dir.resolve("sub/state.json");

        state.write(file);

        assertEquals(state, LabState.read(file).orElseThrow());
        assertEquals(2, state.nodeCount());
        assertEquals("2 nodes on 10.77.0.0/24", state.shape());
        assertEquals(List.of("node-a", "node-b", "client"), state.hostNames());
        JsonNode json = LabState.MAPPER.readTree(file.toFile());
        assertEquals(4242, json.get("hosts").get(0).get("initPid").longValue());
        assertTrue(json.get("hosts").get(2).get("initPid").isNull());
        assertFalse(json.get("hosts").get(0).has("node"), "derived values are not stored");
        assertFalse(Files.exists(dir.resolve("sub/state.json.tmp")));
    }

    @Test
    void noFileIsNoLabAndABrokenFileIsRefused(@TempDir Path dir) throws Exception {
        assertTrue(LabState.read(dir.resolve("state.json")).isEmpty());
        Files.writeString(dir.resolve("state.json"), "{not json");
        RefusedException e = assertThrows(RefusedException.class, () -> LabState.read(dir.resolve("state.json")));
        assertTrue(e.getMessage().contains("pmig lab down"), e.getMessage());
    }
}
