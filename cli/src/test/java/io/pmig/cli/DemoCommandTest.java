package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreReport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCommandTest {
    private static final Pattern LOG = Pattern.compile("into (/\\S+)/counter\\.log");

    private final FakeEngines engines = new FakeEngines();

    @Test
    void aRefusedCheckpointStopsTheSampleAndRemovesTheTemporaryDirectory() {
        int[] checkpointed = {0};
        engines.onCheckpoint = pid -> {
            assertTrue(runsSampleCounter(pid), "the demo checkpoints the running sample");
            checkpointed[0] = pid;
            throw new RefusedException("pid " + pid + " uses something pmig cannot restore");
        };
        Run run = Run.of(engines, true, "demo");

        assertEquals(ExitCodes.REFUSED, run.exitCode(), run.err());
        assertTrue(run.out().contains("\nFAIL: pid " + checkpointed[0] + " uses something"), run.out());
        assertTrue(run.err().startsWith("pmig: pid " + checkpointed[0]), run.err());
        assertFalse(runsSampleCounter(checkpointed[0]), "the sample was stopped");
        assertFalse(Files.exists(temporaryDirectory(run)), "the temporary directory was removed");
    }

    @Test
    void aRestoreUnderAnotherPidFailsAndStopsThatProcessToo(@TempDir Path elsewhere) {
        int[] other = {0};
        engines.onCheckpoint = pid -> {
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();
            return new CheckpointReport(pid, Path.of("/nowhere"), 4, 20, 16384, 64L << 20, 64L << 20, 3, false, 1, 1);
        };
        engines.onRestore = dir -> {
            other[0] = startAnotherSampleCounter(elsewhere.resolve("other.log"));
            return new RestoreReport(other[0], 4, 20, 16384, 64L << 20, 3, 1);
        };
        Run run = Run.of(engines, true, "demo");

        assertEquals(ExitCodes.FAILED, run.exitCode(), run.err());
        assertNotEquals(0, other[0]);
        assertTrue(run.out().contains("\nFAIL: the process came back as pid " + other[0]), run.out());
        assertFalse(runsSampleCounter(other[0]), "the process the restore returned was stopped");
        assertFalse(Files.exists(temporaryDirectory(run)), "the temporary directory was removed");
    }

    /** The demo as README.md runs it, with the real engine: needs root. */
    @Test
    void theDemoPassesWithTheRealEngine() {
        assumeTrue(Pmig.effectiveUidIsRoot(), "the real demo needs root");
        Run run = Run.of(Engines.real(), true, "demo");
        assumeFalse(run.err().contains("UnsupportedOperationException: not built yet"), "the engine is still a stub");

        assertEquals(ExitCodes.OK, run.exitCode(), run.out() + run.err());
        List<String> lines = run.out().lines().toList();
        assertTrue(lines.get(lines.size() - 1).startsWith("PASS: "), run.out());
        assertFalse(Files.exists(temporaryDirectory(run)), "the temporary directory was removed");
    }

    private static Path temporaryDirectory(Run run) {
        Matcher m = LOG.matcher(run.out());
        assertTrue(m.find(), run.out());
        return Path.of(m.group(1));
    }

    private static boolean runsSampleCounter(int pid) {
        try {
            return Files.readSymbolicLink(Path.of("/proc", Integer.toString(pid), "exe")).equals(SampleCounter.binary().toRealPath());
        } catch (IOException e) {
            return false;
        }
    }

    private static int startAnotherSampleCounter(Path log) {
        try {
            new ProcessBuilder("setsid", "--fork", SampleCounter.binary().toString(), log.toString()).start().waitFor();
            for (int i = 0; i < 500; i++) {
                List<SampleCounter.Line> lines = SampleCounter.read(log);
                if (!lines.isEmpty()) {
                    return lines.get(0).pid();
                }
                Thread.sleep(10);
            }
            throw new AssertionError("the other sample-counter wrote nothing in 5 s");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
