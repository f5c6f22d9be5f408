package io.pmig.cli.demo;

import io.pmig.checkpoint.FailedException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs {@code pmig} commands, each in a JVM of its own, on one lab (PMIG_LAB_NAME): the lab's
 * commands from this machine, and pmig itself inside a node, as an operator on that node would.
 * The lab's code stays behind its commands; the demo uses them as an operator does.
 */
final class LabPmig {
    /** The name of the environment variable that picks the lab (see LabLayout). */
    static final String LAB_NAME_VARIABLE = "PMIG_LAB_NAME";
    private static final String MAIN = "io.pmig.cli.Pmig";

    private final String lab;
    private final String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    private final String classPath = System.getProperty("java.class.path");

    LabPmig(String lab) {
        this.lab = lab;
    }

    String lab() {
        return lab;
    }

    /** One finished command: its exit code and output. */
    record Result(List<String> command, int exitCode, String out, String err) {
        boolean ok() {
            return exitCode == 0;
        }

        /** What went wrong, for a message: the command, its exit code and what it said. */
        String failure() {
            String said = (err.strip() + " " + out.strip()).strip();
            return "`" + shown(command) + "` exited with " + exitCode + (said.isEmpty() ? "" : ": " + said);
        }
    }

    /** A command as an operator would type it: {@code pmig ARGS}, with pmig run in a node shown as pmig too. */
    static String shown(List<String> args) {
        List<String> words = new ArrayList<>(List.of("pmig"));
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).endsWith("/bin/java") && args.subList(i, args.size()).contains(MAIN)) {
                words.add("pmig");
                i = args.indexOf(MAIN);
            } else {
                words.add(args.get(i));
            }
        }
        return String.join(" ", words);
    }

    /** {@code pmig ARGS} on this machine, e.g. {@code lab up}. */
    Result run(List<String> args, long timeoutSeconds) {
        Process process = start(args);
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> readAll(process.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
        try {
            process.getOutputStream().close();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new FailedException("`" + shown(args) + "` did not finish in " + timeoutSeconds + " s");
            }
            return new Result(args, process.exitValue(), out.get(timeoutSeconds, TimeUnit.SECONDS),
                    err.get(timeoutSeconds, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
            throw new FailedException("interrupted while `" + shown(args) + "` ran", e);
        } catch (IOException | ExecutionException | TimeoutException e) {
            throw new FailedException("cannot read the output of `" + shown(args) + "`: " + e, e);
        }
    }

    /** Starts {@code pmig ARGS} on this machine; the caller owns its streams. */
    Process start(List<String> args) {
        List<String> command = new ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData",
                "-cp", classPath, MAIN));
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().put(LAB_NAME_VARIABLE, lab);
        try {
            return builder.start();
        } catch (IOException e) {
            throw new FailedException("cannot start " + java + ": " + e.getMessage(), e);
        }
    }

    /** The arguments of {@code pmig lab exec HOST -- CMD...}. */
    static List<String> exec(String host, List<String> command) {
        List<String> args = new ArrayList<>(List.of("lab", "exec", host, "--"));
        args.addAll(command);
        return args;
    }

    /** The arguments that run {@code pmig PMIG_ARGS} inside node {@code node}. */
    List<String> pmigIn(String node, List<String> pmigArgs) {
        List<String> command = new ArrayList<>(List.of(java, "-XX:-UsePerfData", "-cp", classPath, MAIN));
        command.addAll(pmigArgs);
        return exec(node, command);
    }

    private static String readAll(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
