package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SubnetTest {
    @Test
    void numbersHostsInTheSubnet() {
        Subnet subnet = Subnet.parse("10.77.0.0/24");
        assertEquals("10.77.0.0/24", subnet.toString());
        assertEquals(24, subnet.prefixLength());
        assertEquals("10.77.0.11", subnet.host(11));
        assertEquals("10.77.0.100", subnet.host(100));
        assertEquals("172.16.1.100", Subnet.parse("172.16.0.0/23").host(356));
        assertEquals("192.168.5.228", Subnet.parse("192.168.5.128/25").host(100));
    }

    @Test
    void aSubnetWithHostBitsSaysWhichOneWasMeant() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Subnet.parse("10.77.0.5/24"));
        assertEquals("subnet 10.77.0.5/24 has host bits set: did you mean 10.77.0.0/24?", e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.77.0.0", "10.77.0/24", "10.77.0.256/24", "10.77.0.0/26", "10.0.0.0/7", "fd00::/64", ""})
    void refusesWhatIsNoUsableSubnet(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Subnet.parse(text));
        assertTrue(e.getMessage().contains(text), e.getMessage());
    }

    @Test
    void hostNumbersOutsideTheSubnetAreRefused() {
        Subnet subnet = Subnet.parse("10.77.0.0/25");
        assertEquals("10.77.0.126", subnet.host(126));
        assertThrows(IllegalArgumentException.class, () -> subnet.host(127)); // broadcast
        assertThrows(IllegalArgumentException.class, () -> subnet.host(0));
    }
}
