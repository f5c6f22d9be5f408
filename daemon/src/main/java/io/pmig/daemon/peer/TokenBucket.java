package io.pmig.daemon.peer;

import io.pmig.daemon.config.Bandwidth;
import java.util.concurrent.TimeUnit;

/**
 * Paces a stream to a {@link Bandwidth}: the bucket fills at the rate up to a burst, a write takes
 * its bytes out, and a write that finds too few waits until they have accrued. Not for use by
 * several threads at once.
 */
final class TokenBucket {
    /** The burst is 10 ms of the rate (at least one frame): sleeps long enough to be accurate, short enough for a steady pace. */
    private static final double BURST_SECONDS = 0.01;

    private final long bytesPerSecond;
    private final double burstBytes;
    /** Negative while a write's wait pays off what it took beyond what was there. */
    private double tokens;
    private long filledAt;

    TokenBucket(Bandwidth bandwidth, int frameBytes) {
        this.bytesPerSecond = bandwidth.bytesPerSecond();
        this.burstBytes = Math.max(frameBytes, bytesPerSecond * BURST_SECONDS);
        this.tokens = burstBytes;
        this.filledAt = System.nanoTime();
    }

    /** Takes {@code bytes} out, first waiting until the bucket holds them. */
    void take(int bytes) throws InterruptedException {
        long now = System.nanoTime();
        tokens = Math.min(burstBytes, tokens + (now - filledAt) / 1e9 * bytesPerSecond);
        filledAt = now;
        tokens -= bytes;
        if (tokens < 0) {
            TimeUnit.NANOSECONDS.sleep((long) (-tokens / bytesPerSecond * 1e9));
        }
    }
}
