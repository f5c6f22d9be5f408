package io.pmig.daemon.peer;

/** Answers one type of request from a peer. Runs on the daemon's handler threads, so it may block. */
@FunctionalInterface
public interface RequestHandler {
    /** The response; an exception becomes a FAILURE the requester sees as PeerException REMOTE with its message. */
    Message handle(PeerSession peer, Message request) throws Exception;
}
