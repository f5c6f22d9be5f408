package io.pmig.daemon.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.daemon.control.ControlRefusedException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A service is its process, not its pid: a process that took the pid after the service's ended is not the service. */
class ServiceTest {
    private static final int SELF = (int) ProcessHandle.current().pid();

    @Test
    void aServiceIsTheProcessItWasMadeFor() {
        Service s = Service.of("web", SELF, null, List.of(), null);
        assertTrue(s.startTime() > 0, "the start time is kept: " + s);
        assertTrue(s.matchesItsProcess());
        assertTrue(s.running());
        assertEquals(SELF, s.process());
    }

    @Test
    void anotherProcessUnderItsPidIsNotTheService() {
        Service mine = Service.of("web", SELF, null, List.of(), null);
        Service earlier = new Service("web", SELF, null, List.of(), null, mine.startTime() - 1);
        assertFalse(earlier.matchesItsProcess(), "the pid is another process's now");
        assertFalse(earlier.running());
        assertThrows(ControlRefusedException.class, earlier::process);
    }

    @Test
    void anEntryWrittenBeforeStartTimesWereKeptGoesByItsPid() {
        assertTrue(new Service("web", SELF, null, List.of(), null, 0).matchesItsProcess());
    }

    @Test
    void aServiceOfNoProcessIsRefusedByName() {
        ControlRefusedException e = assertThrows(ControlRefusedException.class,
            () -> Service.of("web", Integer.MAX_VALUE, null, List.of(), null));
        assertTrue(e.getMessage().contains("process " + Integer.MAX_VALUE + " does not exist"), e.getMessage());
    }
}
