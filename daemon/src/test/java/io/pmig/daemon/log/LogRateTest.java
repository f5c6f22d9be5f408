package io.pmig.daemon.log;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** 5,000 refused connections in a minute make 10 lines, and the next minute's first line counts the rest. */
class LogRateTest {
    @Test
    void aBurstPerWindowThenTheCountOfWhatWasLeftOut() {
        AtomicLong now = new AtomicLong();
        LogRate rate = new LogRate(10, Duration.ofMinutes(1), now::get);
        int logged = 0;
        for (int i = 0; i < 5_000; i++) {
            now.addAndGet(Duration.ofMillis(10).toNanos());
            if (rate.admit() >= 0) {
                logged++;
            }
        }
        assertEquals(10, logged, "50 s of refusals: one window");
        now.addAndGet(Duration.ofMinutes(1).toNanos());
        assertEquals(4_990, rate.admit(), "the first line of the next window counts what was left out");
        assertEquals(0, rate.admit());
    }
}
