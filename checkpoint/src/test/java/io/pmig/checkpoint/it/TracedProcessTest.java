package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.RefusedException;

import java.io.File;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/**
 * A process under strace is refused by a checkpoint and a pre-copy, naming the tracer's pid and the
 * remedy (it failed with PTRACE_SEIZE's EPERM and a stack trace), and is left as it was: once strace
 * is gone it still passes.
 */
class TracedProcessTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aTracedProcessIsRefusedNamingItsTracer() throws Exception {
        TestProgram p = startReady("threads");
        Process strace = new ProcessBuilder("strace", "-f", "-qq", "-o", "/dev/null", "-p", Integer.toString(p.pid()))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(new File("/dev/null")).start();
        try {
            for (int i = 0; i < 1000 && TestProgram.procField(p.pid(), "TracerPid").orElse("0").equals("0"); i++) {
                Thread.sleep(10);
            }
            String tracer = Long.toString(strace.pid());
            assertTrue(TestProgram.procField(p.pid(), "TracerPid").orElse("0").equals(tracer), "strace traces the program");
            for (boolean leaveRunning : new boolean[] {true, false}) {
                assertRefusedNaming(tracer, () -> new CheckpointEngine().checkpoint(p.pid(), imageDir("leave-" + leaveRunning),
                    new CheckpointOptions(leaveRunning)));
            }
            assertRefusedNaming(tracer, () -> new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults()));
        } finally {
            strace.destroy();
            strace.waitFor(10, TimeUnit.SECONDS);
        }
        assertRunningUntraced(p.pid(), "after strace detached");
        goExpectPassAndExit(p);
    }

    private static void assertRefusedNaming(String tracer, Executable checkpoint) {
        RefusedException e = assertThrows(RefusedException.class, checkpoint);
        assertTrue(e.getMessage().contains("traced by process " + tracer + " ('strace')") && e.getMessage().contains("detach"),
            "the refusal names the tracer and the remedy: " + e.getMessage());
    }
}
