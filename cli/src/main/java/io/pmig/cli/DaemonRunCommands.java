package io.pmig.cli;

import io.pmig.daemon.forward.ForwardedCommands;
import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import picocli.CommandLine;

/**
 * {@code pmig checkpoint} and {@code pmig restore} as pmigd runs them for the command line (pmig-client): the same
 * commands, in the daemon's warm JVM, so a checkpoint or restore costs no JVM start and no cold code.
 *
 * <p>A command line, once built, is kept for the next call of the same command: building picocli's model reads every
 * annotation again (about 10 ms here, a fifth of a small restore), and picocli resets each option to its initial value
 * before it parses. Each call takes a command line no other call holds, so that two calls may run at once.
 */
public final class DaemonRunCommands implements ForwardedCommands {
    private final Map<String, Queue<CommandLine>> idle = new ConcurrentHashMap<>();

    @Override
    public Set<String> names() {
        return Set.of("checkpoint", "restore");
    }

    @Override
    public int run(List<String> argv, PrintWriter out, PrintWriter err) {
        String name = argv.get(0);
        Queue<CommandLine> kept = idle.computeIfAbsent(name, n -> new ConcurrentLinkedQueue<>());
        CommandLine taken = kept.poll();
        try {
            CommandLine command = taken != null ? taken : built(name);
            command.setOut(out);
            command.setErr(err);
            int exitCode = command.execute(argv.toArray(String[]::new));
            kept.add(command);
            return exitCode;
        } catch (RuntimeException | Error e) {
            err.println("pmig: " + Errors.unexpected(e));
            return ExitCodes.FAILED;
        } finally {
            out.flush();
            err.flush();
        }
    }

    private static CommandLine built(String name) {
        CommandLine command = Pmig.commandLine(Engines.real(), () -> true, name); // the daemon runs root's alone
        // an @file would be read by the daemon, not by the caller
        command.setExpandAtFiles(false);
        return command;
    }
}
