package io.pmig.cli;

import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code pmig checkpoint PID --dir DIR}: saves one process (all its threads) into an image directory. */
@Command(name = "checkpoint",
        description = {
            "Checkpoint a process (all its threads) into an image directory.",
            "By default the process is killed once its image is complete; --leave-running thaws it instead. Needs root."})
public final class CheckpointCommand implements Callable<Integer> {
    @ParentCommand
    Pmig pmig;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "PID", description = "the process to checkpoint")
    int pid;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "the image directory to write")
    Path dir;

    @Option(names = "--leave-running", description = "thaw the process after the checkpoint instead of killing it")
    boolean leaveRunning;

    @Option(names = Errors.JSON_OPTION, description = "print the report (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        if (pid <= 0) {
            throw new ParameterException(spec.commandLine(), "PID must be a positive number, not " + pid);
        }
        pmig.requireRoot("checkpoint", "it attaches to the process with ptrace and reads its memory");
        CheckpointReport report = pmig.engines().checkpoint(pid, dir, new CheckpointOptions(leaveRunning));
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(Reports.json(report)));
        } else {
            out.print(Reports.text(report));
        }
        out.flush();
        return ExitCodes.OK;
    }
}
