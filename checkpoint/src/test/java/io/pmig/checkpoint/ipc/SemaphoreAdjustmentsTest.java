package io.pmig.checkpoint.ipc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.checkpoint.nativeio.SysvIpc.SemOp;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The value-neutral shifts the adjustments are read and made with, made by this JVM on a private set of its own: the
 * value never moves, and the adjustment (this process's, from 0) ends exactly {@code by} away, at every value from the
 * bottom to the top. The adjustment is told by the kernel's bound: a further shift to SEMAEM is allowed, one past it
 * fails with ERANGE.
 */
class SemaphoreAdjustmentsTest {
    private int set;

    @BeforeEach
    void makeSet() {
        set = (int) Syscall.call("semget", SysvIpc.SEMGET, SysvIpc.IPC_PRIVATE, 1, 0600);
    }

    @AfterEach
    void removeSet() {
        SysvIpc.remove(SysvIpc.SEMCTL, set);
    }

    @ParameterizedTest
    @CsvSource({"0, 1", "0, -1", "0, 32767", "0, -32768", "1, 16384", "16383, -16385", "16384, 32767", "32766, -32768",
        "32767, 1", "32767, -1", "32767, 32767", "32767, -32768", "100, 5"})
    void aShiftMovesTheAdjustmentByExactlyItsAmountAndLeavesTheValue(int value, int by) {
        Syscall.call("semctl SETVAL", SysvIpc.SEMCTL, set, 0, SysvIpc.SETVAL, value);
        List<SemOp> ops = SemaphoreAdjustments.shift(0, value, by);
        assertTrue(ops.size() <= 8, ops.size() + " operations");
        assertEquals(0, semop(ops), "the shift by " + by + " at value " + value);
        assertEquals(value, SysvIpc.semValues(set, 1)[0], "the value after the shift");

        if (by != SysvIpc.SEMAEM) {
            assertEquals(0, semop(SemaphoreAdjustments.shift(0, value, SysvIpc.SEMAEM - by)), "up to the top from " + by);
        }
        assertEquals(-Errno.ERANGE, semop(SemaphoreAdjustments.shift(0, value, 1)), "one past the top: the adjustment was " + by);
        assertEquals(value, SysvIpc.semValues(set, 1)[0], "the value at the end");
    }

    @ParameterizedTest
    @CsvSource({"0", "1", "32767"})
    void aTouchChangesNothing(int value) {
        Syscall.call("semctl SETVAL", SysvIpc.SEMCTL, set, 0, SysvIpc.SETVAL, value);
        assertEquals(0, semop(SemaphoreAdjustments.touch(0, value)));
        assertEquals(value, SysvIpc.semValues(set, 1)[0]);
        assertEquals(ProcessHandle.current().pid(), SysvIpc.semPid(set, 0), "the caller changed it last");
    }

    private long semop(List<SemOp> ops) {
        byte[] bytes = SysvIpc.sembufs(ops);
        NativeMemory m = NativeMemory.allocate(bytes.length);
        m.put(0, bytes);
        return Syscall.tryCall(SysvIpc.SEMOP, set, m.address(), ops.size());
    }
}
