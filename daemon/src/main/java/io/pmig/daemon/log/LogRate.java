package io.pmig.daemon.log;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Keeps an event that anybody on the network can cause (a connection refused) from flooding the
 * log: at most {@code burst} lines per {@code window}; the first line let through after some were
 * left out says how many.
 */
public final class LogRate {
    private final int burst;
    private final long windowNanos;
    private final LongSupplier clock;
    private long windowStart;
    private int logged;
    private long leftOut;

    public LogRate(int burst, Duration window) {
        this(burst, window, System::nanoTime);
    }

    LogRate(int burst, Duration window, LongSupplier clock) {
        this.burst = burst;
        this.windowNanos = window.toNanos();
        this.clock = clock;
        this.windowStart = clock.getAsLong();
    }

    /** -1: leave this one out; else log it, with the number left out since the last line logged. */
    public synchronized long admit() {
        long now = clock.getAsLong();
        if (now - windowStart >= windowNanos) {
            windowStart = now;
            logged = 0;
        }
        if (logged == burst) {
            leftOut++;
            return -1;
        }
        logged++;
        long before = leftOut;
        leftOut = 0;
        return before;
    }
}
