package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.RefusedException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class LabLayoutTest {
    private final LabLayout layout = new LabLayout("pmig-lab");

    @Test
    void namesEveryNamespaceAndFileAfterTheLab() {
        assertEquals("pmig-lab-switch", layout.switchNetns());
        assertEquals("pmig-lab-node-a", layout.netns("node-a"));
        assertEquals(Path.of("/run/pmig-lab/state.json"), layout.stateFile());
        assertEquals(Path.of("/run/pmig-lab/node-b.log"), layout.logFile("node-b"));
        assertEquals(Path.of("/run/netns/pmig-lab-client"), LabLayout.netnsFile("pmig-lab-client"));
    }

    @Test
    void plansNodesFromDot11AndTheClientAtDot100() {
        List<LabState.Host> hosts = layout.plan(3, Subnet.parse("10.77.0.0/24"), false);
        assertEquals(List.of("node-a", "node-b", "node-c", "client"), hosts.stream().map(LabState.Host::name).toList());
        assertEquals(List.of("10.77.0.11", "10.77.0.12", "10.77.0.13", "10.77.0.100"),
                hosts.stream().map(LabState.Host::address).toList());
        assertEquals(List.of("pmig-lab-node-a", "pmig-lab-node-b", "pmig-lab-node-c", "pmig-lab-client"),
                hosts.stream().map(LabState.Host::netns).toList());
        assertEquals(List.of("veth-node-a", "veth-node-b", "veth-node-c", "veth-client"),
                hosts.stream().map(LabState.Host::bridgePort).toList());
        assertTrue(hosts.get(0).isNode());
        assertFalse(hosts.get(3).isNode());
        assertNull(hosts.get(0).initPid());
        assertEquals("node-z", layout.plan(26, Subnet.parse("10.77.0.0/24"), false).get(25).name());
        assertThrows(IllegalArgumentException.class, () -> layout.plan(27, Subnet.parse("10.77.0.0/24"), false));
        assertThrows(IllegalArgumentException.class, () -> layout.plan(0, Subnet.parse("10.77.0.0/24"), false));
    }

    @Test
    void withDnsPlansTheServerAtDot53AfterTheClient() {
        List<LabState.Host> hosts = layout.plan(2, Subnet.parse("10.78.0.0/16"), true);
        LabState.Host dns = hosts.get(3);
        assertEquals(List.of("node-a", "node-b", "client", "dns"), hosts.stream().map(LabState.Host::name).toList());
        assertEquals("10.78.0.53", dns.address());
        assertEquals("pmig-lab-dns", dns.netns());
        assertEquals("veth-dns", dns.bridgePort());
        assertFalse(dns.isNode());
        assertTrue(layout.isLabNetns("pmig-lab-dns"), "lab down finds a leftover dns namespace by its name");
        LabState state = new LabState(LabState.VERSION, "pmig-lab", "10.78.0.0/16", "pmig-lab-switch", "br0", hosts);
        assertEquals("2 nodes on 10.78.0.0/16 with DNS", state.shape());
        assertEquals(dns, state.dns().orElseThrow());
    }

    @Test
    void knowsItsOwnNamespacesOnly() {
        assertTrue(layout.isLabNetns("pmig-lab-switch"));
        assertTrue(layout.isLabNetns("pmig-lab-node-a"));
        assertTrue(layout.isLabNetns("pmig-lab-client"));
        assertFalse(layout.isLabNetns("pmig-lab-node-ab"));
        assertFalse(layout.isLabNetns("pmig-labtest-node-a"), "another lab's namespace");
        assertFalse(layout.isLabNetns("pmig-lab-other"));
        assertFalse(layout.isLabNetns("x-pmig-lab-client"));
        assertTrue(new LabLayout("pmig-labtest").isLabNetns("pmig-labtest-node-a"));
    }

    @Test
    void refusesABadLabName() {
        assertThrows(RefusedException.class, () -> new LabLayout("../etc"));
        assertThrows(RefusedException.class, () -> new LabLayout("Pmig"));
        assertThrows(RefusedException.class, () -> new LabLayout(""));
    }
}
