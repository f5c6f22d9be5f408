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

/** {@code pmig service stop NAME [--timeout SECONDS]}. */
@Command(name = "stop",
        description = {"End service NAME on this node: SIGTERM to its processes, SIGKILL to those left after the timeout; its"
                + " VIPs leave this node, its DNS name is withdrawn, and the entry is forgotten. Exits 0 when it ended, 3 when"
                + " this node has no such service."})
public final class ServiceStopCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Parameters(index = "0", paramLabel = "NAME", description = "the service to end")
    String name;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "20",
            description = "how long its processes have after SIGTERM before SIGKILL (default: ${DEFAULT-VALUE})")
    int timeoutSeconds;

    @Option(names = "--json", description = "print the ended entry (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        JsonNode s = daemon.client().call(JsonNodeFactory.instance.objectNode().put("op", "service.stop").put("name", name)
                .put("graceSeconds", timeoutSeconds));
        PrintWriter out = spec.commandLine().getOut();
        out.println(json ? Json.write(s) : "stopped service " + ServiceOptions.describe(s)
                + (s.path("killed").asBoolean() ? " (killed after " + timeoutSeconds + " s)" : ""));
        out.flush();
        return ExitCodes.OK;
    }
}
