package io.pmig.daemon.peer;

/**
 * Receives one type of data stream from a peer (a checkpoint image, say). Runs on the daemon's
 * handler threads and reads {@code data} as the bytes arrive; the sender is held back while the
 * handler does not read (flow control), so nothing piles up in memory.
 */
@FunctionalInterface
public interface StreamHandler {
    /**
     * The answer the sender's {@link OutboundStream#finish()} returns; an exception becomes a failure
     * the sender sees as PeerException REMOTE with its message. Bytes the handler leaves unread are
     * discarded.
     */
    Message receive(PeerSession peer, Message header, InboundStream data) throws Exception;
}
