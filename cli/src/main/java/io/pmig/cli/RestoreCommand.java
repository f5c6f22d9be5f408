package io.pmig.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.TcpConnection;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
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
            "The restored process runs detached from pmig. Needs root.",
            "The TCP connections pmig checkpoint held for it are let go just before they go live here, and with --unlock"
                + " without a restore."})
public final class RestoreCommand implements Callable<Integer> {
    @ParentCommand
    Pmig pmig;

    @Spec
    CommandSpec spec;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "the image directory to read")
    Path dir;

    @Option(names = "--new-pid-namespace", description = "restore into a fresh PID namespace, with the same PID numbers inside it")
    boolean newPidNamespace;

    @Option(names = "--unlock", description = {"restore nothing: let the TCP connections of the image, held since pmig checkpoint,"
        + " go (their clients' packets reach this host again and are answered with resets)"})
    boolean unlock;

    @Option(names = Errors.JSON_OPTION, description = "print the report (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        pmig.requireRoot("restore", "it creates the process with its original PID and sets its credentials");
        if (unlock) {
            return unlock();
        }
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

    private int unlock() {
        List<TcpConnection> released = pmig.engines().unlock(dir);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode report = Json.object();
            report.put("image", dir.toString());
            ArrayNode connections = report.putArray("released");
            released.forEach(c -> connections.add(c.toString()));
            out.println(Json.write(report));
        } else {
            out.println("released " + released.size() + " TCP connection(s) of the image in " + dir + "; nothing was restored");
            released.forEach(c -> out.println("  " + c));
        }
        out.flush();
        return ExitCodes.OK;
    }
}
