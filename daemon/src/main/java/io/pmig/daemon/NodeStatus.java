package io.pmig.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlHandler;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.PeerClient;
import io.pmig.daemon.peer.PeerException;
import io.pmig.daemon.peer.PeerHandlers;
import io.pmig.vip.dns.DnsException;
import io.pmig.vip.dns.DnsSettings;
import io.pmig.vip.dns.ServiceDns;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The "status" op: this node, its peers as they answer now (each is connected to and pinged, all
 * at once, within the connect timeout plus one round trip), the DNS server services' names are
 * registered in as it answers now (a signed query for its zone, at the same time), the running
 * migrations, and the sections other parts of the daemon add (the engine's warm-up).
 */
final class NodeStatus implements ControlHandler {
    static final String OP = "status";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final DaemonConfig config;
    private final HostPort listening;
    private final PeerClient peers;
    private final Migrations migrations;
    private final Optional<ServiceDns> dns;
    /** What other parts of the daemon add, after the running migrations. */
    private final Map<String, Supplier<? extends JsonNode>> sections = new ConcurrentSkipListMap<>();

    NodeStatus(DaemonConfig config, HostPort listening, PeerClient peers, Migrations migrations, Optional<ServiceDns> dns) {
        this.config = config;
        this.listening = listening;
        this.peers = peers;
        this.migrations = migrations;
        this.dns = dns;
    }

    /** How one peer answered: {@code state} is ok, unreachable, bad-certificate, refused, protocol-mismatch or error. */
    record PeerState(String name, HostPort address, String state, String reason, boolean encrypted, long millis) {
    }

    @Override
    public ObjectNode handle(ControlCall call) {
        ObjectNode status = MAPPER.createObjectNode();
        status.put("node", config.nodeName());
        status.put("listen", listening.toString());
        status.put("transport", config.plaintext() ? "plaintext" : "tls");
        status.put("config", config.source());
        CompletableFuture<ObjectNode> dnsState = CompletableFuture.supplyAsync(this::checkDns);
        ArrayNode peerArray = status.putArray("peers");
        for (PeerState peer : probeAll().values()) {
            ObjectNode p = peerArray.addObject();
            p.put("name", peer.name());
            p.put("address", peer.address().toString());
            p.put("state", peer.state());
            p.put("authenticated", peer.state().equals("ok") && peer.encrypted());
            p.put("encrypted", peer.encrypted());
            if (peer.reason() == null) {
                p.putNull("reason");
            } else {
                p.put("reason", peer.reason());
            }
            p.put("probeMillis", peer.millis()); // connect, TLS, hello and one ping
        }
        status.set("dns", dnsState.join());
        ArrayNode running = status.putArray("migrations");
        for (Migrations.Migration m : migrations.list()) {
            ObjectNode entry = running.addObject();
            entry.put("id", m.id());
            entry.put("pid", m.pid());
            entry.put("role", m.role());
            entry.put("peer", m.peer());
            entry.put("phase", m.phase());
            entry.put("started", m.started().toString());
        }
        sections.forEach((name, section) -> status.set(name, section.get()));
        return status;
    }

    void section(String name, Supplier<? extends JsonNode> section) {
        sections.put(name, section);
    }

    /** The DNS server as it answers now: {@code state} ok or error with the reason; JSON null when none is configured. */
    private ObjectNode checkDns() {
        if (dns.isEmpty()) {
            return null;
        }
        DnsSettings settings = dns.get().settings();
        ObjectNode state = MAPPER.createObjectNode();
        state.put("server", settings.serverAddress());
        state.put("zone", settings.zone());
        state.put("key", settings.key().name());
        state.put("algorithm", settings.key().algorithm());
        state.put("ttl", settings.ttl().toSeconds());
        long start = System.nanoTime();
        try {
            dns.get().check();
            state.put("state", "ok");
            state.putNull("reason");
        } catch (DnsException e) {
            state.put("state", "error");
            state.put("reason", e.getMessage());
        }
        state.put("probeMillis", millisSince(start));
        return state;
    }

    /** Every configured peer, probed in parallel. */
    Map<String, PeerState> probeAll() {
        Map<String, CompletableFuture<PeerState>> probes = new LinkedHashMap<>();
        for (Map.Entry<String, HostPort> peer : config.peers().entrySet()) {
            probes.put(peer.getKey(), probe(peer.getKey(), peer.getValue()));
        }
        Map<String, PeerState> states = new LinkedHashMap<>();
        probes.forEach((name, probe) -> states.put(name, probe.join()));
        return states;
    }

    private CompletableFuture<PeerState> probe(String name, HostPort address) {
        long start = System.nanoTime();
        int timeout = config.limits().requestTimeoutMillis();
        return peers.connectAsync(name, address)
                .thenCompose(session -> session.send(Message.of(PeerHandlers.PING))
                        .orTimeout(timeout, TimeUnit.MILLISECONDS)
                        .whenComplete((pong, error) -> session.closeAsync())
                        .thenApply(pong -> new PeerState(name, address, "ok", null, session.encrypted(), millisSince(start))))
                .exceptionally(error -> {
                    Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
                    if (cause instanceof TimeoutException) {
                        return new PeerState(name, address, "unreachable", name + " at " + address + " did not answer a ping"
                                + " within " + timeout + " ms (limits.request.timeout.millis)", !config.plaintext(), millisSince(start));
                    }
                    String state = cause instanceof PeerException p ? state(p.reason()) : "error";
                    return new PeerState(name, address, state, String.valueOf(cause.getMessage()), !config.plaintext(),
                            millisSince(start));
                });
    }

    private static long millisSince(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos).toMillis();
    }

    private static String state(PeerException.Reason reason) {
        return switch (reason) {
            case UNREACHABLE, TIMEOUT -> "unreachable";
            case BAD_CERTIFICATE -> "bad-certificate";
            case REFUSED -> "refused";
            case PROTOCOL -> "protocol-mismatch";
            default -> "error";
        };
    }
}
