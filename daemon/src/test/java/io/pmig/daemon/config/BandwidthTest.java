package io.pmig.daemon.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BandwidthTest {
    @Test
    void megabytesAreMillionsOfBytesAndZeroIsNoLimit() {
        assertEquals(20_000_000, Bandwidth.megabytesPerSecond(20).bytesPerSecond());
        assertEquals(12_500_000, Bandwidth.megabytesPerSecond(12.5).bytesPerSecond());
        assertEquals(Bandwidth.UNLIMITED, Bandwidth.megabytesPerSecond(0));
        assertFalse(Bandwidth.UNLIMITED.limited());
    }

    @Test
    void negativeTinyAndEndlessLimitsAreRefusedWithTheRange() {
        for (double bad : new double[] {-5, 0.5, Double.NaN, Double.POSITIVE_INFINITY}) {
            String message = assertThrows(IllegalArgumentException.class, () -> Bandwidth.megabytesPerSecond(bad)).getMessage();
            assertTrue(message.contains("a bandwidth limit of " + bad + " MB/s is not possible: it must be 0 (no limit) or at least 1 MB/s"),
                    message);
        }
    }
}
