package io.pmig.cli;

import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code pmig restore --dir DIR}: brings a checkpointed process back with its original PID. */
@Command(name = "restore",
        description = {
            "Restore a process from an image directory, with its original PID and thread IDs.",
            "The restored process runs detached from pmig. Needs root."})
public final class RestoreCommand implements Callable<Integer> {
    @ParentCommand
    Pmig pmig;

    @Spec
    CommandSpec spec;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "the image directory to read")
    Path dir;

    @Option(names = "--new-pid-namespace", description = "restore into a fresh PID namespace, with the same PID numbers inside it")
    boolean newPidNamespace;

    @Option(names = Errors.JSON_OPTION, description = "print the report (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        pmig.requireRoot("restore", "it creates the process with its original PID and sets its credentials");
        RestoreReport report = pmig.engines().restore(dir, new RestoreOptions(newPidNamespace));
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(Reports.json(report, dir)));
        } else {
            out.print(Reports.text(report, dir));
        }
        out.flush();
        return ExitCodes.OK;
    }
}
