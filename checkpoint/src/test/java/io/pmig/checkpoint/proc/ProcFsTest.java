package io.pmig.checkpoint.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;

class ProcFsTest {
    @Test
    void keyValuesKeepsTheFirstOfEachKey() {
        Map<String, String> kv = ProcFs.keyValues("pos:\t1234\nflags:\t02100002\nmnt_id:\t30\nflags:\t0\nnot a pair\n");
        assertEquals("1234", kv.get("pos"));
        assertEquals("02100002", kv.get("flags"));
        assertEquals(3, kv.size());
    }

    @Test
    void statOfThisProcessSplitsAfterTheComm() {
        ProcFs self = new ProcFs((int) ProcessHandle.current().pid());
        String[] stat = self.stat();
        assertEquals(Long.toString(ProcessHandle.current().pid()), stat[1]);
        assertFalse(stat[2].isEmpty());
        assertTrue(Long.parseUnsignedLong(stat[26]) > 0, "start_code");
        assertTrue(Long.parseUnsignedLong(stat[48]) < Long.parseUnsignedLong(stat[49]), "arg_start < arg_end (fields 48, 49)");
    }

    @Test
    void mapsAndTasksOfThisProcess() {
        ProcFs self = new ProcFs((int) ProcessHandle.current().pid());
        assertTrue(self.maps().stream().anyMatch(MapsEntry::kernelSpecial));
        assertTrue(self.tasks().contains((int) ProcessHandle.current().pid()));
        assertTrue(self.fds().contains(0));
    }
}
