package io.pmig.cli.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** The options {@code pmig service add} and {@code pmig run} share: the service's VIPs and DNS name. */
public final class ServiceOptions {
    @Option(names = "--vip", paramLabel = "IP/PREFIX", description = "a VIP the service serves on (repeatable; put it on the"
            + " node first with pmig vip add)")
    List<String> vips = new ArrayList<>();

    @Option(names = "--dns", paramLabel = "FQDN", description = "the service's DNS name, pointed at its VIP")
    String dns;

    @Option(names = "--json", description = "print the answer (or the error) as one JSON object")
    boolean json;

    /** Puts "vips" and "dns" into {@code request}. */
    ObjectNode into(ObjectNode request) {
        vips.forEach(request.withArray("vips")::add);
        if (dns != null) {
            request.put("dns", dns);
        }
        return request;
    }

    /** One service as a line: "web on node-a, process 42, VIP 10.77.0.100/24, DNS web.pmig.test". */
    static String describe(JsonNode s) {
        StringBuilder text = new StringBuilder(s.path("name").asText()).append(" on ").append(s.path("node").asText())
                .append(", process ").append(s.path("pid").asInt());
        if (s.path("cgroup").isTextual()) {
            text.append(" (cgroup ").append(s.path("cgroup").asText()).append(')');
        }
        s.path("vips").forEach(v -> text.append(", VIP ").append(v.asText()));
        if (s.path("dns").isTextual()) {
            text.append(", DNS ").append(s.path("dns").asText());
        }
        return text.toString();
    }
}
