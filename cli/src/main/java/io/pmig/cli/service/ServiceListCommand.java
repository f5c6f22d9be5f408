package io.pmig.cli.service;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.Json;
import io.pmig.cli.daemon.DaemonSocketOption;
import io.pmig.daemon.control.ControlClient;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pmig service list [--json]}: every node's services, as each daemon reports its own. */
@Command(name = "list",
        description = {"List the services of every node: the local pmigd asks each peer for its own. A peer that does not"
                + " answer is named with the reason. Exits 0 when the local daemon answered."})
public final class ServiceListCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Option(names = "--json", description = "print the list (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        JsonNode list = daemon.client().call(ControlClient.request("service.list"));
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(list));
        } else {
            if (list.path("services").isEmpty()) {
                out.println("no services");
            }
            list.path("services").forEach(s -> out.println(ServiceOptions.describe(s)));
            list.path("unreachable").forEach(u -> out.println(u.path("node").asText() + " did not answer: "
                    + u.path("reason").asText()));
            list.path("problems").forEach(p -> out.println("problem: " + p.asText()));
        }
        out.flush();
        return ExitCodes.OK;
    }
}
