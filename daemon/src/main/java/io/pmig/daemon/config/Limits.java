package io.pmig.daemon.config;

/**
 * The daemon's bounds: the largest request or response a peer may send, the flow-control window
 * of a data stream (how many bytes may be in flight towards a receiver that has not read them),
 * how long a connection and a request may take, how many handlers run at once, how many
 * migrations this node takes part in at once, how long a peer may stay silent before its
 * connection counts as cut (heartbeats keep an idle one alive), how long a source waits to
 * learn whether a destination that went silent after the commit runs the service, and how much
 * memory a destination keeps free beyond what an arriving process needs, and how far a peer's
 * realtime clock may be from this node's for a migration between them, and how long a service moving
 * away may take, with new connections held off, to accept the connections its listeners hold.
 */
public record Limits(int maxMessageBytes, int streamWindowBytes, int connectTimeoutMillis, int requestTimeoutMillis,
        int handlerThreads, int maxMigrations, int peerSilenceMillis, int outcomeWaitMillis, long memoryReserveBytes,
        int clockSkewMillis, int listenerDrainMillis) {
    public static final Limits DEFAULT = new Limits(16 << 20, 8 << 20, 10_000, 30_000, 8, 1, 5_000, 30_000, 64L << 20, 500,
        2_000);
}
