package io.pmig.cli.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.Json;
import io.pmig.cli.daemon.DaemonSocketOption;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pmig service status NAME}: whether this node runs the service, in the exit code (a cluster manager's monitor). */
@Command(name = "status",
        description = {"Tell whether service NAME runs on this node. Exits 0 when it runs here, 5 when it is not on this node,"
                + " and 6 when it is registered here but its process is gone."})
public final class ServiceStatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Parameters(index = "0", paramLabel = "NAME", description = "the service")
    String name;

    @Option(names = "--json", description = "print the entry and its state (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        JsonNode s = daemon.client().call(JsonNodeFactory.instance.objectNode().put("op", "service.status").put("name", name));
        boolean here = s.path("here").asBoolean();
        boolean running = s.path("running").asBoolean();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(s));
        } else if (!here) {
            out.println("service " + name + " is not on " + s.path("node").asText() + " (pmig service list shows where each runs)");
        } else {
            out.println(ServiceOptions.describe(s) + (running ? ": running" : ": its process is gone"));
        }
        out.flush();
        return !here ? ExitCodes.NOT_HERE : running ? ExitCodes.OK : ExitCodes.GONE;
    }
}
