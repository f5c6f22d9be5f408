package io.pmig.daemon.peer;

/** Talking to a peer failed; {@link #reason()} says how, the message says which peer and what to do. */
public class PeerException extends RuntimeException {
    /** How talking to a peer failed. */
    public enum Reason {
        /** No TCP connection: refused, no route, timed out, name not resolved. */
        UNREACHABLE,
        /** TLS failed: a certificate not from the cluster CA, the wrong name, refused by the other side. */
        BAD_CERTIFICATE,
        /** The other side does not accept this node (not its peer, plaintext on one side only). */
        REFUSED,
        /** The other side broke the protocol or speaks another. */
        PROTOCOL,
        /** No answer in time. */
        TIMEOUT,
        /** The connection closed while something was under way. */
        CLOSED,
        /** The other side's handler failed; the message is its error. */
        REMOTE
    }

    private final Reason reason;

    public PeerException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public PeerException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
