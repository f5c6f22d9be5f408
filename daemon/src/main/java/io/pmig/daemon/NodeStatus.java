package io.pmig.daemon;

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
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The "status" op: this node, its peers as they answer now (each is connected to and pinged, all
 * at once, within the connect timeout plus one round trip), and the running migrations.
 */
final class NodeStatus implements ControlHandler {
    static final String OP = "status";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final DaemonConfig config;
    private final HostPort listening;
    private final PeerClient peers;
    private final Migrations migrations;

    NodeStatus(DaemonConfig config, HostPort listening, PeerClient peers, Migrations migrations) {
        this.config = config;
        this.listening = listening;
        this.peers = peers;
        this.migrations = migrations;
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
        return status;
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
