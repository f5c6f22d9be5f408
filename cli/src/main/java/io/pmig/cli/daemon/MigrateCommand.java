package io.pmig.cli.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.Json;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code pmig migrate PID|NAME --to NODE}: the local pmigd moves a running process or service, its VIP and its connections to NODE. */
@Command(name = "migrate",
        description = {
            "Move a running process to another node, live, with its VIP and its TCP connections.",
            "The local pmigd moves process PID, or service NAME (pmig service list), to NODE: its memory, threads, descriptors"
                    + " and TCP connections, and the VIP it serves on (the service's, else found from its sockets, or --vip); a"
                    + " service's registry entry moves with it. Nothing is touched until both nodes agree the"
                    + " move can be made; any failure before the destination runs the process leaves it running here, with"
                    + " its VIP. Exits 0 when it runs on NODE, 3 when refused before anything was touched, 1 when the move"
                    + " failed and was rolled back.",
            "A migration is cancelled before its commit with pmig migrate --cancel ID (ID from pmig status), or with"
                    + " Ctrl-C on the pmig migrate that runs it: it is rolled back, and the process runs on here."})
public final class MigrateCommand implements Callable<Integer> {
    private static final int BAR = 30;

    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Parameters(index = "0", arity = "0..1", paramLabel = "PID|NAME", description = "the process to move, by pid or by its service's name")
    String target;

    @Option(names = "--to", paramLabel = "NODE", description = "the destination node (a peer of this node)")
    String to;

    @Option(names = "--cancel", paramLabel = "ID", description = "cancel migration ID (pmig status lists them) before its commit,"
            + " and wait for its rollback; root, or the user who started it")
    String cancel;

    @Option(names = "--vip", paramLabel = "IP", description = "the VIP the service uses (default: the one its sockets are bound to)")
    String vip;

    @Option(names = "--mode", paramLabel = "MODE", defaultValue = "staged",
            description = "staged (default): copy memory while the process runs, round after round, then freeze it for the"
                    + " last delta; bundle: freeze it for the whole copy")
    String mode;

    @Option(names = "--max-rounds", paramLabel = "N", description = "staged: freeze after N rounds at most"
            + " (default: precopy.max.rounds of the daemon's configuration, 30)")
    Integer maxRounds;

    @Option(names = "--stop-below", paramLabel = "PAGES", description = "staged: freeze once a round leaves fewer than PAGES"
            + " pages written (default: precopy.stop.below.pages, 256)")
    Long stopBelowPages;

    @Option(names = "--bandwidth", paramLabel = "MB/s", description = "the most the image stream may use, in MB/s (10^6 bytes),"
            + " at least 1; 0: no limit (default: migration.bandwidth.megabytes.per.second of the daemon's configuration, none)")
    Double bandwidth;

    @Option(names = "--compress", paramLabel = "auto|on|off", defaultValue = "auto", description = "compress the pages on the"
            + " image stream (zstd): auto compresses while the link is the bottleneck (a --bandwidth limit, or a slow link"
            + " measured), on always, off never; runs that do not shrink go raw (default: ${DEFAULT-VALUE})")
    String compress;

    @Option(names = "--filter", paramLabel = "on|off", description = "staged: the data filter leaves out of each round the"
            + " pages written again since it began and those forecast to be written again before it ends, which later rounds"
            + " or the last part send (less data for processes that rewrite their memory; off: plain pre-copy, to compare)"
            + " (default: on)")
    String filter;

    @Option(names = "--postcopy", paramLabel = "never|auto|always", defaultValue = "never", description = "staged: let the"
            + " copy run before the pages written since the last round arrived; it fetches each on first touch while the source"
            + " pushes the rest from the frozen original (a writer that never converges then moves with a short freeze). auto:"
            + " when the rounds stopped shrinking, always: after the rounds. The risk: until every page arrived, losing the"
            + " source node (its pmigd, the link) loses the service, the copy is killed then and the original too"
            + " (default: ${DEFAULT-VALUE})")
    String postcopy;

    @Option(names = "--no-replay", description = "drop the packets held during the move instead of replaying them"
            + " (to measure what replay saves: clients then wait for their retransmission)")
    boolean noReplay;

    @Option(names = "--json", description = "print the report (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        if (cancel != null) {
            if (target != null || to != null) {
                throw new ParameterException(spec.commandLine(), "--cancel ID takes neither a PID nor --to");
            }
            return cancel();
        }
        if (target == null || to == null) {
            throw new ParameterException(spec.commandLine(), "give the PID or service NAME to move and --to NODE (or --cancel ID)");
        }
        ObjectNode request = JsonNodeFactory.instance.objectNode().put("op", "migrate").put("to", to)
                .put("replay", !noReplay).put("mode", mode);
        if (target.matches("\\d+")) {
            request.put("pid", Integer.parseInt(target));
        } else {
            request.put("service", target);
        }
        if (vip != null) {
            request.put("vip", vip);
        }
        if (maxRounds != null) {
            request.put("maxRounds", maxRounds);
        }
        if (stopBelowPages != null) {
            request.put("stopBelowPages", stopBelowPages);
        }
        if (bandwidth != null) {
            request.put("bandwidthMegabytesPerSecond", bandwidth);
        }
        request.put("compress", compress);
        if (filter != null) {
            request.put("filter", filter);
        }
        request.put("postcopy", postcopy);
        boolean bar = !json && System.console() != null;
        PrintWriter err = spec.commandLine().getErr();
        // Ctrl-C ends this JVM and so closes its connection, which is what tells pmigd to cancel
        Thread interrupted = new Thread(() -> {
            err.println("\npmig: interrupted: pmigd cancels the migration and rolls it back, unless its commit had begun"
                    + " (pmig status shows what runs)");
            err.flush();
        });
        Runtime.getRuntime().addShutdownHook(interrupted);
        JsonNode report;
        try {
            report = daemon.client().call(request, p -> {
                if (bar) {
                    err.print("\r" + progress(p));
                    err.flush();
                }
            });
        } finally {
            Runtime.getRuntime().removeShutdownHook(interrupted);
        }
        if (bar) {
            err.print("\r" + " ".repeat(BAR + 40) + "\r");
            err.flush();
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(json ? Json.write(report) + "\n" : text(report));
        out.flush();
        return ExitCodes.OK;
    }

    private int cancel() {
        JsonNode result = daemon.client().call(JsonNodeFactory.instance.objectNode().put("op", "cancel").put("id", cancel));
        PrintWriter out = spec.commandLine().getOut();
        out.println(json ? Json.write(result) : result.path("message").asText());
        out.flush();
        return result.path("rolledBack").asBoolean() ? ExitCodes.OK : ExitCodes.FAILED;
    }

    private static String progress(JsonNode p) {
        if (p.has("round")) {
            return String.format(Locale.ROOT, "pre-copy round %d: %d pages, %d written meanwhile%20s", p.path("round").asInt(),
                    p.path("pagesSent").asLong(), p.path("pagesDirtiedMeanwhile").asLong(), "");
        }
        if (p.has("total") && p.path("total").asLong() > 0) {
            double f = (double) p.path("bytes").asLong() / p.path("total").asLong();
            int filled = (int) Math.round(f * BAR);
            return String.format(Locale.ROOT, "transfer [%s%s] %3.0f%% %d/%d MB", "#".repeat(filled), " ".repeat(BAR - filled),
                    100 * f, p.path("bytes").asLong() >> 20, p.path("total").asLong() >> 20);
        }
        return String.format(Locale.ROOT, "%-60s", p.path("phase").asText());
    }

    /** The report of a migration as text, as pmig migrate prints it. */
    public static String text(JsonNode r) {
        return String.format(Locale.ROOT, "migrated %sprocess %d%s from %s to %s (pid %d there)%s%n"
                        + "  total %.1f ms (%.1f ms of it announcing the VIP after the service ran), downtime %.1f ms"
                        + " (frozen until the image was sent: %.1f ms, restore %.1f ms), client-relevant stall %.1f ms%n"
                        + "  sent %.1f MB (%.1f MB of memory) at %.0f MB/s (%s)%s; packets held by the source %d,"
                        + " replayed at the destination %d (with those it held itself)%n",
                r.path("service").isTextual() ? "service " + r.path("service").asText() + ", " : "",
                r.path("pid").asInt(), r.path("processes").size() > 1 ? " with its " + (r.path("processes").size() - 1)
                    + " descendant(s)" : "", r.path("from").asText(), r.path("to").asText(), r.path("restoredPid").asInt(),
                r.path("vip").isTextual() ? " with VIP " + r.path("vip").asText() : "",
                r.path("totalMillis").asDouble(), r.path("settleMillis").asDouble(), r.path("downtimeMillis").asDouble(),
                r.path("frozenUntilImageMillis").asDouble(), r.path("restoreMillis").asDouble(), r.path("clientStallMillis").asDouble(),
                r.path("bytesSent").asLong() / 1e6, r.path("memoryBytes").asLong() / 1e6, r.path("megabytesPerSecond").asDouble(),
                r.path("bandwidthLimitMegabytesPerSecond").asDouble() > 0
                        ? String.format(Locale.ROOT, "limit %.1f MB/s", r.path("bandwidthLimitMegabytesPerSecond").asDouble())
                        : "no bandwidth limit",
                (r.path("encrypted").asBoolean() ? ", encrypted" : ", PLAINTEXT") + compression(r.path("compression")),
                r.path("heldPackets").asLong(),
                r.path("replayedPackets").asLong()) + steps("downtime", r.path("downtimeSteps")) + steps("frozen", r.path("frozenSteps"))
                + steps("restore", r.path("restoreSteps"))
                + rounds(r) + notes(r);
    }

    /** ", pages compressed 5.2x (auto)" or ", pages uncompressed (auto)". */
    private static String compression(JsonNode c) {
        if (c.isMissingNode()) {
            return "";
        }
        return c.path("ran").asBoolean()
                ? String.format(Locale.ROOT, ", pages compressed %.1fx (%s)", c.path("ratio").asDouble(), c.path("mode").asText())
                : ", pages uncompressed (" + c.path("mode").asText() + ")";
    }

    /** "  frozen: freeze 1.2, descriptors 0.4, ... ms": where a part of the downtime went. */
    private static String steps(String part, JsonNode steps) {
        if (steps.isEmpty()) {
            return "";
        }
        StringBuilder text = new StringBuilder("  ").append(part).append(':');
        steps.forEach(s -> text.append(String.format(Locale.ROOT, " %s %.1f,", s.path("step").asText(), s.path("millis").asDouble())));
        text.setLength(text.length() - 1);
        return text.append(" ms\n").toString();
    }

    /** What the daemon wants the operator to know: a fallback, a step cut short. */
    private static String notes(JsonNode r) {
        StringBuilder text = new StringBuilder();
        r.path("notes").forEach(note -> text.append("  note: ").append(note.asText()).append('\n'));
        return text.toString();
    }

    /** A staged migration's rounds, one line each; nothing for bundle mode. */
    private static String rounds(JsonNode r) {
        if (!r.path("mode").asText().equals("staged")) {
            return "  mode bundle: the whole image while frozen\n";
        }
        StringBuilder text = new StringBuilder(String.format(Locale.ROOT, "  mode staged (%s), data filter %s, pages sent more than once %d:%n",
                r.path("tracking").asText(), r.path("filter").path("mode").asText("off"), r.path("pagesSentMoreThanOnce").asLong()));
        JsonNode pc = r.path("postcopy");
        if (pc.path("ran").asBoolean()) {
            text.append(String.format(Locale.ROOT, "  post-copy (%s) after the copy ran: %d pages left at the source, %d sent on"
                    + " fault and %d pushed, %.1f ms%n", pc.path("mode").asText(), pc.path("pagesLeftBehind").asLong(),
                    pc.path("pagesOnFault").asLong(), pc.path("pagesPushed").asLong(), pc.path("millis").asDouble()));
        } else if (!pc.isMissingNode()) {
            text.append("  post-copy ").append(pc.path("mode").asText()).append(": did not run\n");
        }
        for (JsonNode round : r.path("rounds")) {
            long held = round.path("pagesHeldBack").asLong();
            text.append(String.format(Locale.ROOT, "    %-10s %8d pages %9.1f MB %9.1f ms%s%s%n",
                    round.path("last").asBoolean() ? "last part" : "round " + round.path("round").asInt(),
                    round.path("pagesSent").asLong(), round.path("bytes").asLong() / 1e6, round.path("millis").asDouble(),
                    round.path("last").asBoolean() ? " (frozen)" : ", " + round.path("pagesDirtiedMeanwhile").asLong() + " pages written meanwhile",
                    held > 0 ? ", " + held + " held back" : ""));
        }
        return text.toString();
    }
}
