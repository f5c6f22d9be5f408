package io.pmig.cli.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.Json;
import io.pmig.cli.daemon.DaemonSocketOption;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pmig drain NODE [--to NODE,...] [--parallel K] [--dry-run] [--json]}. */
@Command(name = "drain",
        description = {"Move every service off NODE, this node, live, as pmig migrate moves one. Each goes to the peer with the"
                + " fewest services that can give its memory (the most free memory among equals), as the peers answer now,"
                + " or to one of --to. A line per service says where it moves and how it went, a summary ends. A service that"
                + " cannot move runs on here and is named with the reason; running the drain again finishes the job. Exits 0"
                + " when NODE has no service left, 4 when some stayed (with --dry-run: when some have no place), 3 when"
                + " refused."})
public final class DrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Parameters(index = "0", paramLabel = "NODE", description = "the node to empty: the one this command runs on")
    String node;

    @Option(names = "--to", paramLabel = "NODE", split = ",", description = "the peers that may take services (default: every peer)")
    List<String> to = new ArrayList<>();

    @Option(names = "--parallel", paramLabel = "K", defaultValue = "1", description = "move at most K services at a time (no more"
            + " than limits.migrations of the daemon's configuration allows; default 1)")
    int parallel;

    @Option(names = "--dry-run", description = "show where each service would go, and move nothing")
    boolean dryRun;

    @Option(names = "--json", description = "print the plan and the outcome (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        ObjectNode request = JsonNodeFactory.instance.objectNode().put("op", "drain").put("node", node).put("parallel", parallel)
                .put("dryRun", dryRun);
        to.forEach(request.withArray("to")::add);
        PrintWriter out = spec.commandLine().getOut();
        JsonNode answer = daemon.client().call(request, p -> {
            if (!json) {
                out.println(line(p));
                out.flush();
            }
        });
        out.print(json ? Json.write(answer) + "\n" : summary(answer));
        out.flush();
        boolean done = dryRun ? answer.path("movable").asBoolean() : answer.path("empty").asBoolean();
        return done ? ExitCodes.OK : ExitCodes.NOT_EMPTY;
    }

    private static String line(JsonNode p) {
        String service = p.path("service").asText();
        return switch (p.path("event").asText()) {
            case "moving" -> service + ": moving to " + p.path("to").asText();
            case "moved" -> String.format(Locale.ROOT, "%s: moved to %s (pid %d there), downtime %.1f ms", service,
                    p.path("to").asText(), p.path("restoredPid").asInt(), p.path("downtimeMillis").asDouble());
            default -> service + ": stays: " + p.path("reason").asText();
        };
    }

    private static String summary(JsonNode a) {
        StringBuilder text = new StringBuilder();
        a.path("notes").forEach(n -> text.append("note: ").append(n.asText()).append('\n'));
        if (a.path("dryRun").asBoolean()) {
            text.append("plan for ").append(a.path("node").asText()).append(" (nothing moved):\n");
            a.path("plan").forEach(p -> text.append("  ").append(p.path("service").asText()).append(p.path("to").isTextual()
                    ? " -> " + p.path("to").asText() + String.format(Locale.ROOT, " (%.1f MB)", p.path("memoryBytes").asLong() / 1e6)
                    : " stays: " + p.path("reason").asText()).append('\n'));
            return text.toString();
        }
        text.append(String.format("%s: %d moved, %d stayed%s%n", a.path("node").asText(), a.path("moved").size(),
                a.path("stayed").size(), a.path("empty").asBoolean() ? "; the node is empty" : "; the node is NOT empty"));
        a.path("stayed").forEach(s -> text.append("  ").append(s.path("service").asText()).append(" stays: ")
                .append(s.path("reason").asText()).append('\n'));
        return text.toString();
    }
}
