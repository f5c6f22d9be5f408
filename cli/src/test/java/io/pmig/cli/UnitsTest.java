package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class UnitsTest {
    @Test
    void bytes() {
        assertEquals("0 B", Units.bytes(0));
        assertEquals("1023 B", Units.bytes(1023));
        assertEquals("4.0 KiB", Units.bytes(4096));
        assertEquals("64.0 MiB", Units.bytes(64L << 20));
        assertEquals("1.50 GiB", Units.bytes(3L << 29));
    }

    @Test
    void durations() {
        assertEquals("0.35 ms", Units.duration(350_000));
        assertEquals("48.2 ms", Units.duration(48_200_000));
        assertEquals("1.25 s", Units.duration(1_250_000_000));
    }

    @Test
    void rates() {
        assertEquals(0, Units.bytesPerSecond(1 << 20, 0), "no time measured, no rate");
        assertEquals(2L << 20, Units.bytesPerSecond(1 << 20, 500_000_000));
        assertEquals("2.0 MiB/s", Units.rate(2L << 20));
        assertEquals("1.25 GiB/s", Units.rate(5L << 28));
    }
}
