package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code pmig vip add} without --dev, in a network namespace of the test's own with three
 * interfaces (veths whose peers stay in the namespace, without addresses): d0 alone in
 * 10.88.1.0/24, d1 and d2 both in 10.88.2.0/24.
 */
class VipAddWithoutDevTest {
    private static final String NETNS = LabTestSupport.LAB + "-vipdev";
    private final LabShell shell = new LabShell();

    @BeforeEach
    void namespace() {
        assumeTrue(LabCommandTest.isRoot(), "needs root for a network namespace");
        removeNamespace();
        shell.run("ip", "netns", "add", NETNS);
        String[][] interfaces = {{"d0", "10.88.1.1/24"}, {"d1", "10.88.2.1/24"}, {"d2", "10.88.2.2/24"}};
        for (String[] nif : interfaces) {
            shell.ip(NETNS, "link", "add", nif[0], "type", "veth", "peer", "name", nif[0] + "p");
            shell.ip(NETNS, "addr", "add", nif[1], "dev", nif[0]);
            shell.ip(NETNS, "link", "set", nif[0], "up");
            shell.ip(NETNS, "link", "set", nif[0] + "p", "up");
        }
    }

    @AfterEach
    void removeNamespace() {
        shell.attempt("ip", "netns", "delete", NETNS);
    }

    @Test
    @Timeout(120)
    void theOneInterfaceWhoseSubnetHoldsTheVipTakesIt() throws Exception {
        LabShell.Result add = pmig("vip", "add", "10.88.1.50/24", "--json");
        assertEquals(ExitCodes.OK, add.exitCode(), add.failure());
        JsonNode result = LabTestSupport.MAPPER.readTree(add.out());
        assertEquals("d0", result.get("interface").textValue(), add.out());
        assertTrue(shell.ip(NETNS, "-o", "-4", "addr", "show", "dev", "d0").contains("inet 10.88.1.50/24"));
    }

    @Test
    @Timeout(120)
    void noneOrSeveralInterfacesAreRefusedByName() {
        String before = shell.ip(NETNS, "-o", "-4", "addr", "show");

        LabShell.Result none = pmig("vip", "add", "10.88.9.50/24");
        assertEquals(ExitCodes.REFUSED, none.exitCode(), none.failure());
        assertTrue(none.err().contains("10.88.9.50 lies in no subnet of this node's interfaces"), none.err());
        for (String subnet : List.of("d0 10.88.1.0/24", "d1 10.88.2.0/24", "d2 10.88.2.0/24")) {
            assertTrue(none.err().contains(subnet), none.err());
        }

        LabShell.Result several = pmig("vip", "add", "10.88.2.50/24");
        assertEquals(ExitCodes.REFUSED, several.exitCode(), several.failure());
        assertTrue(several.err().contains("10.88.2.50 lies in the subnets of several interfaces (d1, d2); name the one to use with --dev IFACE"),
                several.err());

        assertEquals(before, shell.ip(NETNS, "-o", "-4", "addr", "show"), "no interface changed");
        LabShell.Result named = pmig("vip", "add", "10.88.2.50/24", "--dev", "d2");
        assertEquals(ExitCodes.OK, named.exitCode(), named.failure());
        assertFalse(shell.ip(NETNS, "-o", "addr", "show", "dev", "d1").contains("10.88.2.50"));
        assertTrue(shell.ip(NETNS, "-o", "addr", "show", "dev", "d2").contains("inet 10.88.2.50/24"));
    }

    /** pmig in a JVM of its own inside the test's namespace, as an operator on that host runs it. */
    private LabShell.Result pmig(String... args) {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", NETNS,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:-UsePerfData",
                "-cp", System.getProperty("java.class.path"), "io.pmig.cli.Pmig"));
        command.addAll(List.of(args));
        return shell.attempt(command.toArray(String[]::new));
    }
}
