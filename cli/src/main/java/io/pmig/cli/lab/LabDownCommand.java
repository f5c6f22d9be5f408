package io.pmig.cli.lab;

import io.pmig.cli.ExitCodes;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pmig lab down}: removes the lab, also after a crash; nothing to do is not an error. */
@Command(name = "down",
        description = {
            "Remove the lab and everything that runs in it.",
            "Stops the nodes' pmigd (SIGTERM), then the node inits (which ends everything in the nodes), kills what else runs in the lab's namespaces,"
                    + " deletes the namespaces and the state file. Finds the lab by its names even without a state"
                    + " file; safe to run twice. Needs root."},
        exitCodeListHeading = LabCommand.EXIT_CODES_HEADING,
        exitCodeList = {LabCommand.EXIT_OK, LabCommand.EXIT_FAILED, LabCommand.EXIT_USAGE, LabCommand.EXIT_REFUSED})
public final class LabDownCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = LabCommand.JSON, description = "print what was removed (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        LabCommand.requireRoot("down");
        Lab.Down down = LabCommand.lab().down();
        PrintWriter out = spec.commandLine().getOut();
        out.print(json ? LabReports.write(LabReports.json(down)) + "\n" : LabReports.text(down));
        out.flush();
        return ExitCodes.OK;
    }
}
