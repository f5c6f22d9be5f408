package io.pmig.daemon.peer;

import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/**
 * What this node answers: request and stream handlers by message type, and the executor they run
 * on (owned by the daemon). One registry serves every session, inbound and outbound, so a peer
 * may send requests over a connection either side opened.
 */
public final class PeerHandlers {
    private final Executor executor;
    private final Map<String, RequestHandler> requests = new ConcurrentHashMap<>();
    private final Map<String, StreamHandler> streams = new ConcurrentHashMap<>();

    /** The built-in "ping" request answers "pong": {@code pmig status} uses it to check a peer end to end. */
    public static final String PING = "ping";

    public PeerHandlers(Executor executor) {
        this.executor = Objects.requireNonNull(executor);
        onRequest(PING, (peer, request) -> Message.of("pong"));
    }

    /** Registers the handler of one request type, replacing any earlier one. */
    public PeerHandlers onRequest(String type, RequestHandler handler) {
        requests.put(type, handler);
        return this;
    }

    /** Registers the handler of one stream type, replacing any earlier one. */
    public PeerHandlers onStream(String type, StreamHandler handler) {
        streams.put(type, handler);
        return this;
    }

    RequestHandler request(String type) {
        return requests.get(type);
    }

    StreamHandler stream(String type) {
        return streams.get(type);
    }

    public Executor executor() {
        return executor;
    }
}
