package io.pmig.daemon.forward;

import java.io.PrintWriter;
import java.util.List;
import java.util.Set;

/**
 * The pmig commands a running pmigd runs for the {@code pmig} command line, in its warm JVM, so that the command
 * starts no JVM of its own (docs/pmigd.md, "Commands run by the daemon"). The CLI provides them (found with
 * {@link java.util.ServiceLoader}): the daemon runs the same command, with the same output and exit code.
 */
public interface ForwardedCommands {
    /** The commands (first words of a command line) these run. */
    Set<String> names();

    /**
     * Runs the command line {@code argv} (its first word one of {@link #names()}) for root, printing what the command
     * prints to {@code out} and {@code err}; returns its exit code. Never throws.
     */
    int run(List<String> argv, PrintWriter out, PrintWriter err);
}
