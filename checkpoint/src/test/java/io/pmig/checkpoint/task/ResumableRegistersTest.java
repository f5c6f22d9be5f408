package io.pmig.checkpoint.task;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.checkpoint.nativeio.Registers;

import org.junit.jupiter.api.Test;

class ResumableRegistersTest {
    private static Registers stoppedIn(long syscall, long rax) {
        return new Registers(new long[27]).with(Registers.ORIG_RAX, syscall).with(Registers.RAX, rax).with(Registers.RIP, 0x1000);
    }

    @Test
    void interruptedSyscallsAreIssuedAgain() {
        for (long code : new long[] {-512, -513, -514, -516}) {
            Registers r = TaskRestorer.resumable(stoppedIn(230, code));
            assertEquals(230, r.get(Registers.RAX), "rax for " + code);
            assertEquals(0x1000 - 2, r.get(Registers.RIP), "rip for " + code);
            assertEquals(-1, r.get(Registers.ORIG_RAX));
        }
    }

    @Test
    void finishedSyscallsAndUserCodeAreLeftAlone() {
        Registers done = TaskRestorer.resumable(stoppedIn(0, 42));
        assertEquals(42, done.get(Registers.RAX));
        assertEquals(0x1000, done.get(Registers.RIP));
        Registers user = TaskRestorer.resumable(stoppedIn(-1, -512));
        assertEquals(-512, user.get(Registers.RAX));
        assertEquals(0x1000, user.get(Registers.RIP));
    }
}
