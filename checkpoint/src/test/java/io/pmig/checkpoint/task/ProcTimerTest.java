package io.pmig.checkpoint.task;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

class ProcTimerTest {
    @Test
    void parsesEveryNotificationKind() {
        String text = String.join("\n",
            "ID: 0", "signal: 35/000000000000beef", "notify: signal/pid.4242", "ClockID: 1",
            "ID: 1", "signal: 14/0000000000000000", "notify: signal/tid.4243", "ClockID: 0",
            "ID: 2", "signal: 0/0000000000000000", "notify: none/pid.4242", "ClockID: 7", "");
        List<ProcTimer> timers = ProcTimer.parse(text);
        assertEquals(3, timers.size());
        assertEquals(new ProcTimer(0, 35, 0xbeef, ProcTimer.SIGEV_SIGNAL, 0, 1), timers.get(0));
        assertEquals(new ProcTimer(1, 14, 0, ProcTimer.SIGEV_THREAD_ID, 4243, 0), timers.get(1));
        assertEquals(new ProcTimer(2, 0, 0, ProcTimer.SIGEV_NONE, 0, 7), timers.get(2));
    }

    @Test
    void noTimersNoEntries() {
        assertEquals(List.of(), ProcTimer.parse(""));
    }
}
