package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.checkpoint.task.ProtectedProcesses;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/**
 * PID 1, a kernel thread, a pmigd and this process are refused by name (pmig checkpoint 1 used to report
 * "killed" and leave PID 1 stopped), by a checkpoint and by a pre-copy's pre-flight, and nothing of them
 * is stopped or traced.
 */
class ProtectedProcessTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void initIsRefusedByName() {
        assertRefusedUntouched(1, "init process");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aKernelThreadIsRefusedByName() throws IOException {
        int kthread = kernelThread().orElse(-1);
        Assumptions.assumeTrue(kthread > 0, "no kernel thread visible in this PID namespace");
        assertRefusedUntouched(kthread, "kernel thread");
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aPmigdIsRefusedByName() throws Exception {
        // a process with pmigd's command line: 'sh -c ... io.pmig.daemon.Pmigd' (the class name as $0)
        Process fake = new ProcessBuilder("sh", "-c", "while :; do sleep 1; done", ProtectedProcesses.PMIGD_MAIN_CLASS).start();
        try {
            assertRefusedUntouched((int) fake.pid(), "pmigd");
            assertTrue(fake.isAlive(), "the refused pmigd runs on");
        } finally {
            fake.destroyForcibly();
        }
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void thisProcessIsRefused() {
        assertRefusedUntouched((int) ProcessHandle.current().pid(), "this pmig process itself");
    }

    private void assertRefusedUntouched(int pid, String name) {
        for (boolean leaveRunning : new boolean[] {true, false}) {
            assertRefusedNaming(name, () -> new CheckpointEngine().checkpoint(pid, tmp.resolve("image-" + leaveRunning),
                new CheckpointOptions(leaveRunning)));
        }
        assertRefusedNaming(name, () -> new CheckpointEngine().precopy(pid, PrecopyOptions.defaults()));
        assertEquals("0", TestProgram.procField(pid, "TracerPid").orElse("?"), "process " + pid + " traced after the refusals");
        String state = TestProgram.procState(pid).orElseThrow();
        assertFalse(state.startsWith("T") || state.startsWith("t"), "process " + pid + " is " + state + " after the refusals");
    }

    private static void assertRefusedNaming(String name, Executable checkpoint) {
        RefusedException e = assertThrows(RefusedException.class, checkpoint);
        assertTrue(e.getMessage().contains(name), "the refusal names '" + name + "': " + e.getMessage());
    }

    private static Optional<Integer> kernelThread() throws IOException {
        try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
            return entries.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d+")).map(Integer::parseInt)
                .filter(pid -> pid > 1 && isKernelThread(pid)).findFirst();
        }
    }

    private static boolean isKernelThread(int pid) {
        try {
            return (Long.parseUnsignedLong(new ProcFs(pid).stat()[9]) & 0x00200000) != 0;
        } catch (RuntimeException gone) {
            return false;
        }
    }
}
