package io.pmig.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.daemon.control.ControlClient;
import io.pmig.vip.VipException;
import java.io.PrintWriter;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Turns every failure into its exit code and a "pmig: MESSAGE" line on stderr; with --json also
 * into {"error": MESSAGE, "exitCode": N} on stdout. The one place that maps exceptions to codes.
 */
final class Errors implements IExecutionExceptionHandler, IParameterExceptionHandler {
    static final String JSON_OPTION = "--json";

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine commandLine = ex.getCommandLine();
        PrintWriter err = commandLine.getErr();
        err.println("pmig: " + ex.getMessage());
        UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Try '" + commandLine.getCommandSpec().qualifiedName() + " --help' for usage.");
        err.flush();
        if (Arrays.asList(args).contains(JSON_OPTION)) {
            printJson(commandLine, ex.getMessage(), ExitCodes.USAGE);
        }
        return ExitCodes.USAGE;
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine commandLine, ParseResult parseResult) {
        int exitCode = exitCode(ex);
        String message = message(ex);
        PrintWriter err = commandLine.getErr();
        err.println("pmig: " + message);
        err.flush();
        if (jsonRequested(parseResult)) {
            printJson(commandLine, message, exitCode);
        }
        return exitCode;
    }

    static int exitCode(Exception ex) {
        return refused(ex) ? ExitCodes.REFUSED : ExitCodes.FAILED;
    }

    /**
     * Whether nothing was touched: a VIP manager error is raised before the address changed (its
     * checks, or the kernel's refusal of one atomic netlink request); a daemon that cannot be
     * reached did nothing; a daemon says itself whether it refused.
     */
    private static boolean refused(Exception ex) {
        return ex instanceof RefusedException || ex instanceof VipException || ex instanceof ControlClient.UnavailableException
                || (ex instanceof ControlClient.DaemonException d && d.refused());
    }

    static String message(Exception ex) {
        if (refused(ex)) {
            return ex.getMessage() + " (nothing was changed)";
        }
        if (ex instanceof FailedException || ex instanceof ControlClient.DaemonException) {
            return ex.getMessage();
        }
        return unexpected(ex) + " (the process or the image directory may have been changed)";
    }

    /**
     * A failure no code reports (a bug) in one line: the exception and where it was thrown, which is
     * what finds the bug; an operator never gets a stack trace.
     */
    static String unexpected(Throwable ex) {
        StackTraceElement[] trace = ex.getStackTrace();
        return "unexpected error: " + ex + (trace.length > 0 ? " at " + trace[0] : "");
    }

    private static boolean jsonRequested(ParseResult parseResult) {
        for (ParseResult p = parseResult; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption(JSON_OPTION)) {
                return true;
            }
        }
        return false;
    }

    private static void printJson(CommandLine commandLine, String message, int exitCode) {
        ObjectNode error = Json.object();
        error.put("error", message);
        error.put("exitCode", exitCode);
        PrintWriter out = commandLine.getOut();
        out.println(Json.write(error));
        out.flush();
    }
}
