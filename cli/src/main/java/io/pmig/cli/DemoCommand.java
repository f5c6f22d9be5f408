package io.pmig.cli;

import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code pmig demo}: until migration between nodes is built, a real local checkpoint and restore of
 * sample-counter. It starts the program, lets it count for about a second, checkpoints it (which
 * kills it), restores it, and checks in its log that the same PID goes on counting where it left
 * off with its memory intact and all its threads running. Everything it starts is stopped and its
 * temporary directory removed, on failure and on Ctrl-C too.
 */
@Command(name = "demo",
        description = {
            "Checkpoint and restore a sample program on this machine and check that it goes on where it left off.",
            "The sample holds 64 MiB of written memory and 4 threads. Needs root."})
public final class DemoCommand implements Callable<Integer> {
    private static final int LINES_BEFORE = 10; // about a second of running
    private static final int LINES_AFTER = 5;
    private static final long WAIT_MILLIS = 10_000;

    @ParentCommand
    Pmig pmig;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        pmig.requireRoot("demo", "it checkpoints and restores a process");
        PrintWriter out = spec.commandLine().getOut();
        Run run = new Run(SampleCounter.binary(), pmig.engines(), out, spec.commandLine().getErr());
        Thread cleanUpOnExit = new Thread(run::cleanUp, "pmig-demo-clean-up");
        Runtime.getRuntime().addShutdownHook(cleanUpOnExit);
        String verdict;
        try {
            verdict = run.run();
        } catch (IOException | RuntimeException e) {
            run.cleanUp();
            out.println("FAIL: " + Errors.message(e) + "; everything the demo started was stopped");
            out.flush();
            throw e;
        } finally {
            run.cleanUp();
            Runtime.getRuntime().removeShutdownHook(cleanUpOnExit);
        }
        out.println("PASS: " + verdict);
        out.flush();
        return ExitCodes.OK;
    }

    /** One demo run and what it started, so that {@link #cleanUp} can stop it. */
    private static final class Run {
        private final Path binary;
        private final Engines engines;
        private final PrintWriter out;
        private final PrintWriter err;
        private Path dir;
        private Process launcher;
        private int pid;
        // Handles, not numbers: ProcessHandle kills only the process it was taken for (it checks
        // the start time), so a reused PID is never hit.
        private ProcessHandle original;
        private ProcessHandle restored;

        Run(Path binary, Engines engines, PrintWriter out, PrintWriter err) {
            this.binary = binary;
            this.engines = engines;
            this.out = out;
            this.err = err;
        }

        String run() throws IOException {
            out.println("pmig demo: checkpoint and restore of a sample program on this machine");
            dir = Files.createTempDirectory("pmig-demo-");
            Path log = dir.resolve("counter.log");
            Path image = Files.createDirectory(dir.resolve("image"));
            Path output = dir.resolve("counter.out");
            // setsid --fork --wait: the sample is not the JVM's child (the JVM's reaper thread would
            // take the engine's ptrace stops) and its parent, setsid, reaps it as soon as it dies.
            launcher = new ProcessBuilder("setsid", "--fork", "--wait", binary.toString(), log.toString())
                    .redirectInput(Redirect.from(new File("/dev/null")))
                    .redirectOutput(Redirect.appendTo(output.toFile()))
                    .redirectErrorStream(true)
                    .start();
            BooleanSupplier launched = () -> launcher.isAlive();
            pid = awaitLines(log, 1, launched, output).get(0).pid();
            original = ProcessHandle.of(pid).orElse(null);
            out.printf("started %s as pid %d: %d MiB of written memory, %d threads, a line every 100 ms into %s%n",
                    binary.getFileName(), pid, SampleCounter.MEMORY_BYTES >> 20, SampleCounter.THREADS, log);
            awaitLines(log, LINES_BEFORE, launched, output);

            CheckpointReport checkpoint = engines.checkpoint(pid, image, new CheckpointOptions(false));
            out.print(Reports.text(checkpoint));
            if (!waitFor(launcher)) {
                throw new FailedException("pid " + pid + " still runs after its checkpoint, which should have killed it");
            }
            List<SampleCounter.Line> before = SampleCounter.read(log);
            SampleCounter.Line last = before.get(before.size() - 1);
            out.println("  its last line:  " + last.text());

            RestoreReport restore = engines.restore(image, new RestoreOptions(false));
            restored = ProcessHandle.of(restore.pid()).orElse(null);
            out.print(Reports.text(restore, image));
            if (restore.pid() != pid) {
                throw new FailedException("the process came back as pid " + restore.pid() + ", not as pid " + pid);
            }
            List<SampleCounter.Line> after = awaitLines(log, before.size() + LINES_AFTER, () -> running(restore.pid()), output)
                    .subList(before.size(), before.size() + LINES_AFTER);
            for (SampleCounter.Line line : after) {
                out.println("  its next lines: " + line.text());
            }
            check(last, after);
            stop(restored);
            long gapMillis = after.get(0).timeMs() - last.timeMs();
            return "pid " + pid + " went on counting from " + last.count() + " to " + after.get(0).count()
                    + " after its checkpoint and restore, with its " + (SampleCounter.MEMORY_BYTES >> 20)
                    + " MiB of memory intact and its " + SampleCounter.THREADS + " threads running"
                    + " (its log paused " + gapMillis + " ms)";
        }

        /** The lines after the restore continue the count of the same PID, with memory and threads intact. */
        private void check(SampleCounter.Line last, List<SampleCounter.Line> after) {
            long expected = last.count() + 1;
            for (SampleCounter.Line line : after) {
                if (line.pid() != pid || line.count() != expected || !line.memoryOk() || line.threads() != SampleCounter.THREADS) {
                    throw new FailedException("after the restore the log has '" + line.text() + "', expected pid " + pid
                            + " count " + expected + " with memory ok and " + SampleCounter.THREADS + " threads");
                }
                expected++;
            }
        }

        /** Waits for at least {@code count} lines while {@code alive} holds; fails with the program's output otherwise. */
        private List<SampleCounter.Line> awaitLines(Path log, int count, BooleanSupplier alive, Path output) throws IOException {
            long deadline = System.currentTimeMillis() + WAIT_MILLIS;
            while (true) {
                List<SampleCounter.Line> lines = SampleCounter.read(log);
                for (SampleCounter.Line line : lines) {
                    if (!line.memoryOk()) {
                        throw new FailedException("sample-counter found its memory changed: " + line.text());
                    }
                }
                if (lines.size() >= count) {
                    return lines;
                }
                if (!alive.getAsBoolean()) {
                    throw new FailedException("sample-counter stopped after " + lines.size() + " lines of " + log
                            + " (expected " + count + "); its output: " + Files.readString(output, StandardCharsets.UTF_8).strip());
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new FailedException("sample-counter wrote only " + lines.size() + " lines of " + count
                            + " into " + log + " in " + WAIT_MILLIS + " ms");
                }
                sleep(20);
            }
        }

        /** Stops a sample: SIGTERM, then SIGKILL if it lingers. */
        private static void stop(ProcessHandle sample) {
            if (sample == null) {
                return;
            }
            sample.destroy();
            if (!awaitGone(sample)) {
                sample.destroyForcibly();
                if (!awaitGone(sample)) {
                    throw new FailedException("pid " + sample.pid() + " (sample-counter) did not die on SIGKILL");
                }
            }
        }

        /** Idempotent: kills whatever still runs and removes the temporary directory. */
        synchronized void cleanUp() {
            for (ProcessHandle sample : new ProcessHandle[] {restored, original}) {
                if (sample != null) {
                    sample.destroyForcibly();
                    awaitGone(sample);
                }
            }
            if (launcher != null) {
                // setsid exits by itself once it has reaped the sample; killing it first would leave a zombie.
                if (original == null || !waitFor(launcher)) {
                    launcher.destroyForcibly();
                    waitFor(launcher);
                }
            }
            if (dir != null) {
                try {
                    deleteTree(dir);
                } catch (UncheckedIOException e) {
                    err.println("pmig: " + e.getMessage() + ": " + e.getCause());
                }
                dir = null;
            }
        }

        private static boolean running(int target) {
            try {
                String stat = Files.readString(Path.of("/proc", Integer.toString(target), "stat"));
                char state = stat.charAt(stat.lastIndexOf(')') + 2);
                return state != 'Z' && state != 'X';
            } catch (NoSuchFileException e) {
                return false;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** Waits until the process is gone or a zombie: a zombie has let go of everything but its PID. */
        private static boolean awaitGone(ProcessHandle process) {
            int target = (int) process.pid();
            long deadline = System.currentTimeMillis() + WAIT_MILLIS;
            while (running(target)) {
                if (System.currentTimeMillis() > deadline) {
                    return false;
                }
                sleep(10);
            }
            return true;
        }

        private static boolean waitFor(Process process) {
            try {
                return process.waitFor(WAIT_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FailedException("interrupted while waiting for pid " + process.pid(), e);
            }
        }

        private static void sleep(long millis) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FailedException("interrupted", e);
            }
        }

        private static void deleteTree(Path root) {
            try (Stream<Path> paths = Files.walk(root)) {
                for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(path);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove " + root, e);
            }
        }
    }
}
