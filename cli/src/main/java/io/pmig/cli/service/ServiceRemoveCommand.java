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

/** {@code pmig service remove NAME}. */
@Command(name = "remove",
        description = {"Forget service NAME of this node, and its DNS name; its process runs on. Exits 0 when removed, 3 when"
                + " this node has no such service."})
public final class ServiceRemoveCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Parameters(index = "0", paramLabel = "NAME", description = "the service to forget")
    String name;

    @Option(names = "--json", description = "print the removed entry (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        JsonNode s = daemon.client().call(JsonNodeFactory.instance.objectNode().put("op", "service.remove").put("name", name));
        PrintWriter out = spec.commandLine().getOut();
        out.println(json ? Json.write(s) : "removed service " + ServiceOptions.describe(s) + " (the process runs on)");
        out.flush();
        return ExitCodes.OK;
    }
}
