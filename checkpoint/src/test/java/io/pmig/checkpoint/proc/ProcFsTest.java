package io.pmig.checkpoint.proc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.nativeio.Linux;

import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

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

    /** Threads ending while they are read are left out, never an error: pre-flight reads a running process's threads. */
    @Test
    void threadStatusesOfAProcessWhoseThreadsComeAndGo() throws InterruptedException {
        int pid = (int) ProcessHandle.current().pid();
        AtomicBoolean stop = new AtomicBoolean();
        Thread churn = new Thread(() -> {
            while (!stop.get()) {
                Thread shortLived = new Thread(() -> { });
                shortLived.start();
                try {
                    shortLived.join();
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        churn.start();
        try {
            for (int i = 0; i < 300; i++) {
                Map<Integer, Map<String, String>> threads = new ProcFs(pid).threadStatuses();
                assertEquals(Integer.toString(pid), threads.get(pid).get("Tgid"), "the main thread is listed");
            }
        } finally {
            stop.set(true);
            churn.join();
        }
    }

    /** /proc/PID/limits says what prlimit64 says (which the engine cannot ask of another user's process). */
    @Test
    void limitsOfThisProcessAreThoseOfPrlimit() {
        int pid = (int) ProcessHandle.current().pid();
        long[][] limits = new ProcFs(pid).limits();
        assertEquals(16, limits.length, "RLIMIT_NLIMITS of linux/resource.h");
        for (int r = 0; r < limits.length; r++) {
            assertArrayEquals(Linux.getRlimit(pid, r), limits[r], "limit " + r);
        }
    }
}
