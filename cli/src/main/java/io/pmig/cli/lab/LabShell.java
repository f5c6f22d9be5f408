package io.pmig.cli.lab;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Every program the lab runs ({@code ip}, {@code unshare}, {@code nsenter}, {@code setsid},
 * {@code sysctl}) goes through here. A command that fails is reported with its whole command
 * line, its exit code and its stderr. The lab is not on the switchover path: shelling out to
 * iproute2 and util-linux is simpler and clearer here than netlink and setns from Java.
 */
final class LabShell {
    private static final long TIMEOUT_MILLIS = 30_000;
    private static final File DEV_NULL = new File("/dev/null");

    /** One finished command. */
    record Result(List<String> command, int exitCode, String out, String err) {
        boolean ok() {
            return exitCode == 0;
        }

        /** "`ip netns add x` failed (exit 1): Cannot create namespace file ...: File exists". */
        String failure() {
            String why = err.strip().isEmpty() ? out.strip() : err.strip();
            return "`" + String.join(" ", command) + "` failed (exit " + exitCode + ")" + (why.isEmpty() ? "" : ": " + why);
        }
    }

    /** Runs a command to its end and returns its stdout; a nonzero exit fails with its stderr. */
    String run(String... command) {
        Result result = attempt(command);
        if (!result.ok()) {
            throw new FailedException(result.failure());
        }
        return result.out();
    }

    /** {@code ip -n NETNS ARGS...}. */
    String ip(String netns, String... args) {
        List<String> command = new ArrayList<>(List.of("ip", "-n", netns));
        command.addAll(List.of(args));
        return run(command.toArray(String[]::new));
    }

    /** Runs a command to its end, whatever its exit code. */
    Result attempt(String... command) {
        List<String> argv = List.of(command);
        Process process = start(new ProcessBuilder(argv).redirectInput(Redirect.from(DEV_NULL)), argv);
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> readAll(process.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
        int exitCode = await(process, argv);
        try {
            return new Result(argv, exitCode, out.get(), err.get());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FailedException("interrupted while reading the output of `" + String.join(" ", argv) + "`", e);
        } catch (ExecutionException e) {
            throw new FailedException("cannot read the output of `" + String.join(" ", argv) + "`: " + e.getCause(), e);
        }
    }

    /**
     * Runs a command that starts something which outlives it (setsid --fork ...): its stdin is
     * /dev/null and its stdout and stderr, and those of what it leaves running, go to {@code log},
     * so no pipe ties the JVM to what stays behind. Fails with the log when the command fails.
     */
    void runDetached(List<String> command, Path log) {
        Process process = start(new ProcessBuilder(command)
                .redirectInput(Redirect.from(DEV_NULL))
                .redirectOutput(Redirect.appendTo(log.toFile()))
                .redirectErrorStream(true), command);
        int exitCode = await(process, command);
        if (exitCode != 0) {
            throw new FailedException("`" + String.join(" ", command) + "` failed (exit " + exitCode + "): " + tail(log));
        }
    }

    /** Runs a command with this process's stdin, stdout and stderr, and returns its exit code. */
    int passThrough(List<String> command) {
        Process process = start(new ProcessBuilder(command).inheritIO(), command);
        try {
            return process.waitFor();
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
            throw new FailedException("interrupted while `" + String.join(" ", command) + "` ran; it was sent SIGTERM", e);
        }
    }

    /** Refuses unless every program is on the PATH. */
    static void requireTools(String... programs) {
        List<String> missing = new ArrayList<>();
        for (String program : programs) {
            if (which(program) == null) {
                missing.add(program);
            }
        }
        if (!missing.isEmpty()) {
            throw new RefusedException("the lab needs " + String.join(", ", missing)
                    + " (iproute2, util-linux, procps; for --dns bind9 and bind9-dnsutils), not found on the PATH: run scripts/install-deps");
        }
    }

    static Path which(String program) {
        String path = System.getenv("PATH");
        for (String dir : (path == null ? "/usr/sbin:/usr/bin:/sbin:/bin" : path).split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, program);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    /** The last lines of a log, for an error message. */
    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            String text = String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size())).strip();
            return text.isEmpty() ? "(" + log + " is empty)" : text + " (from " + log + ")";
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    private static Process start(ProcessBuilder builder, List<String> command) {
        try {
            return builder.start();
        } catch (IOException e) {
            throw new FailedException("cannot run `" + String.join(" ", command) + "`: " + e.getMessage(), e);
        }
    }

    private static int await(Process process, List<String> command) {
        try {
            if (!process.waitFor(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor();
                throw new FailedException("`" + String.join(" ", command) + "` did not finish in "
                        + TIMEOUT_MILLIS / 1000 + " s and was killed");
            }
            return process.exitValue();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new FailedException("interrupted while `" + String.join(" ", command) + "` ran; it was killed", e);
        }
    }

    private static String readAll(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
