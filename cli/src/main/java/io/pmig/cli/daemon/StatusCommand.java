package io.pmig.cli.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.Json;
import io.pmig.daemon.control.ControlClient;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pmig status}: what the local pmigd says about its node, its peers and its migrations. */
@Command(name = "status",
        description = {
            "Show this node's pmigd: its name and address, each peer as it answers now, the DNS server it registers"
                    + " services' names in (if configured) as it answers now, and running migrations.",
            "The daemon connects to every configured peer (TLS and hello) and pings it; a peer is ok, unreachable,"
                    + " bad-certificate, refused or protocol-mismatch, with the reason. Exits 0 when the daemon answered,"
                    + " 3 when it is not running. The DNS server is asked for its zone's SOA record, signed with the node's"
                    + " TSIG key: ok, or error with the reason (no answer, not authoritative, key unknown or secret wrong)."})
public final class StatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    DaemonSocketOption daemon;

    @Option(names = "--json", description = "print the status (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        JsonNode status = daemon.client().call(ControlClient.request("status"));
        PrintWriter out = spec.commandLine().getOut();
        out.print(json ? Json.write(status) + "\n" : text(status));
        out.flush();
        return ExitCodes.OK;
    }

    static String text(JsonNode status) {
        StringBuilder text = new StringBuilder();
        text.append(status.path("node").asText()).append(": listening on ").append(status.path("listen").asText())
                .append(status.path("transport").asText().equals("tls") ? " (TLS)" : " (PLAINTEXT: peers are neither"
                        + " authenticated nor encrypted)")
                .append(", configuration ").append(status.path("config").asText()).append('\n');
        JsonNode peers = status.path("peers");
        text.append(peers.isEmpty() ? "peers: none configured\n" : "peers:\n");
        for (JsonNode peer : peers) {
            text.append(String.format("  %-10s %-22s ", peer.path("name").asText(), peer.path("address").asText()));
            if (peer.path("state").asText().equals("ok")) {
                text.append("ok (").append(peer.path("authenticated").asBoolean() ? "authenticated, encrypted" : "plaintext")
                        .append(", ").append(peer.path("probeMillis").asLong()).append(" ms)");
            } else {
                text.append(peer.path("state").asText()).append(": ").append(peer.path("reason").asText());
            }
            text.append('\n');
        }
        JsonNode dns = status.path("dns");
        if (dns.isObject()) {
            text.append("dns: zone ").append(dns.path("zone").asText()).append(" on ").append(dns.path("server").asText())
                    .append(", TSIG key ").append(dns.path("key").asText()).append(": ")
                    .append(dns.path("state").asText().equals("ok") ? "ok (" + dns.path("probeMillis").asLong() + " ms)"
                            : "ERROR: " + dns.path("reason").asText())
                    .append('\n');
        } else {
            text.append("dns: none configured (no dns.server)\n");
        }
        JsonNode warmUp = status.path("warmUp");
        if (warmUp.isObject()) {
            // "engine warm-up: done, 200 of 200 moves in 21.2 s" (pmigd(8), engine.warm-up.moves)
            text.append("engine warm-up: ").append(warmUp.path("state").asText()).append(", ").append(warmUp.path("moves").asInt())
                    .append(" of ").append(warmUp.path("of").asInt()).append(" moves")
                    .append(warmUp.path("millis").asLong() > 0 ? String.format(Locale.ROOT, " in %.1f s", warmUp.path("millis").asLong() / 1e3) : "")
                    .append(warmUp.path("failedMoves").asInt() > 0 ? ", " + warmUp.path("failedMoves").asInt() + " failed" : "")
                    .append('\n');
        }
        JsonNode migrations = status.path("migrations");
        text.append(migrations.isEmpty() ? "migrations: none running\n" : "migrations:\n");
        for (JsonNode m : migrations) {
            text.append(String.format("  %s pid %d %s %s, %s since %s%n", m.path("id").asText(), m.path("pid").asLong(),
                    m.path("role").asText().equals("source") ? "to" : "from", m.path("peer").asText(),
                    m.path("phase").asText(), m.path("started").asText()));
        }
        return text.toString();
    }
}
