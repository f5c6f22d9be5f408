package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** pmig vip add|remove|list on a lab node, as an operator on that node runs them. */
class VipCommandTest {
    @BeforeEach
    void lab() {
        LabTestSupport.freshLab();
    }

    @AfterEach
    void removeLab() {
        LabTestSupport.removeLab();
    }

    @Test
    @Timeout(120)
    void addListAndRemoveAVip() {
        Run add = pmigIn("node-a", "vip", "add", "10.77.0.60/24", "--dev", "eth0", "--announce", "--json");
        assertEquals(ExitCodes.OK, add.exitCode(), add.toString());
        assertEquals(10, add.json().get("announced").intValue(), "5 rounds of a request and a reply: " + add.out());
        assertTrue(exec("node-a", "ip", "-o", "-4", "addr", "show", "dev", "eth0").contains("inet 10.77.0.60/24"));

        JsonNode list = pmigIn("node-a", "vip", "list", "--dev", "eth0", "--json").json();
        assertTrue(list.get("addresses").toString().contains("{\"address\":\"10.77.0.60/24\",\"role\":\"vip\"}"), list.toString());
        assertTrue(list.get("addresses").toString().contains("{\"address\":\"10.77.0.11/24\",\"role\":\"address\"}"), list.toString());

        assertEquals(ExitCodes.OK, pmigIn("node-a", "vip", "add", "10.77.0.60/24", "--dev", "eth0").exitCode(), "adding twice is no error");
        Run remove = pmigIn("node-a", "vip", "remove", "10.77.0.60/24", "--dev", "eth0", "--json");
        assertEquals(ExitCodes.OK, remove.exitCode(), remove.toString());
        assertFalse(exec("node-a", "ip", "-o", "-4", "addr", "show", "dev", "eth0").contains("10.77.0.60"));
        assertEquals(ExitCodes.OK, pmigIn("node-a", "vip", "remove", "10.77.0.60/24", "--dev", "eth0").exitCode(), "removing twice is no error");
    }

    @Test
    @Timeout(120)
    void badInputIsRefusedAndChangesNothing() {
        String before = exec("node-a", "ip", "-o", "-4", "addr", "show", "dev", "eth0");
        Run outside = pmigIn("node-a", "vip", "add", "10.9.0.60/24", "--dev", "eth0", "--json");
        assertEquals(ExitCodes.REFUSED, outside.exitCode(), outside.toString());
        assertTrue(outside.json().get("error").textValue().contains("outside eth0's subnets (10.77.0.0/24)"), outside.out());
        Run noInterface = pmigIn("node-a", "vip", "add", "10.77.0.60/24", "--dev", "eth9");
        assertEquals(ExitCodes.REFUSED, noInterface.exitCode(), noInterface.toString());
        assertTrue(noInterface.err().contains("interface eth9 does not exist"), noInterface.err());
        exec("node-b", "ip", "addr", "add", "10.77.0.61/24", "dev", "eth0");
        Run inUse = pmigIn("node-a", "vip", "add", "10.77.0.61/24", "--dev", "eth0", "--json");
        assertEquals(ExitCodes.REFUSED, inUse.exitCode(), inUse.toString());
        String macB = exec("node-b", "cat", "/sys/class/net/eth0/address").strip();
        assertTrue(inUse.json().get("error").textValue().contains("10.77.0.61 is in use on eth0's segment by " + macB), inUse.out());
        Run ownAddress = pmigIn("node-a", "vip", "remove", "10.77.0.11/24", "--dev", "eth0", "--json");
        assertEquals(ExitCodes.REFUSED, ownAddress.exitCode(), ownAddress.toString());
        assertTrue(ownAddress.json().get("error").textValue().startsWith("10.77.0.11/24 on eth0 was not added by pmig (it is the"
            + " interface's own address)"), ownAddress.out());
        Run broadcast = pmigIn("node-a", "vip", "add", "10.77.0.255/24", "--dev", "eth0", "--no-probe");
        assertEquals(ExitCodes.REFUSED, broadcast.exitCode(), broadcast.toString());
        assertTrue(broadcast.err().contains("10.77.0.255 is the broadcast address of 10.77.0.0/24 on eth0"), broadcast.err());
        Run noPrefix = pmigIn("node-a", "vip", "add", "10.77.0.60", "--dev", "eth0");
        assertEquals(ExitCodes.REFUSED, noPrefix.exitCode(), noPrefix.toString());
        assertEquals(before, exec("node-a", "ip", "-o", "-4", "addr", "show", "dev", "eth0"), "the interface is unchanged");
    }
}
