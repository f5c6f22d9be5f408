package io.pmig.checkpoint.fd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * A restored connection's timestamp clock goes on from its reading, advanced by the time since in the
 * clock's own unit; the lowest bit (microsecond stamps, Linux 6.7+) stays as read.
 */
class TcpTimestampTest {
    private static final long READ_AT = 1_000_000;

    @Test
    void aMillisecondClockAdvancesInMillisecondsAndStaysAMillisecondClock() {
        int read = 1_652_330_448;                       // even: milliseconds
        assertEquals(read + 36, TcpSockets.timestampNow(connection(read), READ_AT + 36));
        assertEquals(read + 36, TcpSockets.timestampNow(connection(read), READ_AT + 37), "an odd advance would switch on microseconds");
        assertEquals(read, TcpSockets.timestampNow(connection(read), READ_AT), "no time passed");
    }

    @Test
    void aMicrosecondClockAdvancesInMicrosecondsAndStaysOne() {
        int read = 1_652_330_449;                       // odd: microseconds
        assertEquals(read + 37_000, TcpSockets.timestampNow(connection(read), READ_AT + 37));
    }

    @Test
    void aClockWrapsAsTheKernelsDoes() {
        int read = -2;                                  // 0xfffffffe: milliseconds, about to wrap
        assertEquals(8, TcpSockets.timestampNow(connection(read), READ_AT + 10));
    }

    @Test
    void aClockNeverGoesBackAndOldImagesRestoreAsRead() {
        assertEquals(1000, TcpSockets.timestampNow(connection(1000), READ_AT - 50), "a wall clock stepped back");
        assertEquals(1000, TcpSockets.timestampNow(new TcpSockets.Connection(0, 0, 1448, 0, 0, 0, 1000, 0, new int[5], new byte[0], 0,
            new byte[0]), READ_AT + 500), "an image without the reading's time");
    }

    private static TcpSockets.Connection connection(int timestamp) {
        return new TcpSockets.Connection(0, 0, 1448, 0, 0, 0, timestamp, READ_AT, new int[5], new byte[0], 0, new byte[0]);
    }
}
