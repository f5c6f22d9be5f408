package io.pmig.cli;

import io.pmig.daemon.forward.ForwardedCommands;
import java.io.PrintWriter;
import java.util.List;
import java.util.Set;
import picocli.CommandLine;

/**
 * {@code pmig checkpoint} and {@code pmig restore} as pmigd runs them for the command line (pmig-client): the same
 * commands, in the daemon's warm JVM, so a checkpoint or restore costs no JVM start and no cold code.
 */
public final class DaemonRunCommands implements ForwardedCommands {
    @Override
    public Set<String> names() {
        return Set.of("checkpoint", "restore");
    }

    @Override
    public int run(List<String> argv, PrintWriter out, PrintWriter err) {
        try {
            CommandLine command = Pmig.commandLine(Engines.real(), () -> true, argv.get(0)); // the daemon runs root's alone
            // an @file would be read by the daemon, not by the caller
            command.setExpandAtFiles(false);
            command.setOut(out);
            command.setErr(err);
            return command.execute(argv.toArray(String[]::new));
        } catch (RuntimeException | Error e) {
            err.println("pmig: " + Errors.unexpected(e));
            return ExitCodes.FAILED;
        } finally {
            out.flush();
            err.flush();
        }
    }
}
