package io.pmig.cli.lab;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pmig lab exec NODE -- CMD...}: runs a command inside a node (or the client) with nsenter. */
@Command(name = "exec",
        description = {
            "Run a command inside a node or the client (pmig lab exec NODE -- CMD...).",
            "In a node CMD runs in its network, PID and mount namespaces (it sees the node's processes and /proc);"
                    + " in the client, in its network namespace. CMD is a child of pmig with its stdin, stdout and"
                    + " stderr, and pmig exits with CMD's exit code. Needs root."},
        exitCodeListHeading = LabCommand.EXIT_CODES_HEADING,
        exitCodeList = {
            "CMD:the exit code of CMD once it ran (128+N if signal N killed it)",
            LabCommand.EXIT_FAILED,
            LabCommand.EXIT_USAGE + ", before CMD ran",
            LabCommand.EXIT_REFUSED + ", before CMD ran (e.g. no lab is up)"})
public final class LabExecCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "NODE", description = "node-a, node-b, ... or client")
    String host;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "CMD", description = "the command and its arguments")
    List<String> command;

    @Override
    public Integer call() {
        LabCommand.requireRoot("exec");
        try {
            return LabCommand.lab().exec(host, command);
        } catch (Lab.UnknownHostException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
