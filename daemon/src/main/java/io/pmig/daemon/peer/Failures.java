package io.pmig.daemon.peer;

import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.ssl.NotSslRecordException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Path;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.util.Locale;
import javax.net.ssl.SSLException;

/** Turns what netty and the JDK throw into a PeerException that says what went wrong with which peer and what to do. */
final class Failures {
    private Failures() {
    }

    /**
     * @param peer "node-b at 10.77.0.12:7700" (client side) or "the peer at 10.77.0.11:41234" (server side)
     * @param ca the cluster CA file, null in plaintext mode
     */
    static PeerException classify(Throwable failure, String peer, Path ca) {
        if (failure instanceof PeerException known) {
            return known;
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof CertPathBuilderException || t instanceof CertPathValidatorException
                    || (t.getMessage() != null && t.getMessage().contains("PKIX path"))) {
                return new PeerException(PeerException.Reason.BAD_CERTIFICATE, "the certificate of " + peer
                        + " is not signed by this cluster's CA (" + ca + "): give it a certificate from the same"
                        + " pmig certs init, or fix tls.ca on one side", failure);
            }
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof NotSslRecordException) {
                return new PeerException(PeerException.Reason.PROTOCOL, peer + " does not speak TLS: plaintext = true is set"
                        + " on one side only; set it on both or on neither", failure);
            }
            // the JDK says "Received fatal alert: ...", BoringSSL "...:TLSV1_ALERT_...": the other side ended the handshake,
            // which with mutual TLS means it did not accept this node's certificate
            if (t instanceof SSLException && t.getMessage() != null
                    && (t.getMessage().contains("fatal alert") || t.getMessage().contains("_ALERT_"))) {
                return new PeerException(PeerException.Reason.BAD_CERTIFICATE, peer + " refused this node's certificate ("
                        + t.getMessage() + "): its tls.ca must be the CA that signed this node's certificate", failure);
            }
            if (t instanceof ConnectException || t instanceof NoRouteToHostException || t instanceof UnknownHostException) {
                return new PeerException(PeerException.Reason.UNREACHABLE, "cannot connect to " + peer + ": " + connectError(t)
                        + ": is pmigd running there, and is its address in the configuration right?", failure);
            }
            if (t instanceof TooLongFrameException) {
                return new PeerException(PeerException.Reason.PROTOCOL, peer + " sent a frame beyond the size limit ("
                        + t.getMessage() + "): it speaks another protocol, or TLS to a plaintext node", failure);
            }
            if (t instanceof SSLException || t instanceof ClosedChannelException) {
                return new PeerException(PeerException.Reason.PROTOCOL, "TLS with " + peer + " failed (" + t + "): is"
                        + " plaintext = true set on one side only?", failure);
            }
        }
        return new PeerException(PeerException.Reason.CLOSED, "the connection with " + peer + " failed: " + failure, failure);
    }

    /**
     * A connection this node accepted that failed before it became a session: what the other end
     * did, for the log line of the refusal. Someone who is not a node of the cluster (a port scan,
     * a health check, a TLS client without a certificate, HTTP) is said to be that; only a node
     * configured for plaintext is said to be one.
     *
     * @param peer "the peer at 10.77.0.11:41234"
     */
    static PeerException classifyAccepted(Throwable failure, String peer, Path ca) {
        if (failure instanceof PeerException known) {
            return known;
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            String message = String.valueOf(t.getMessage());
            // BoringSSL: PEER_DID_NOT_RETURN_A_CERTIFICATE; the JDK: "Empty client certificate chain", "certificate_required"
            if (message.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") || message.contains("Empty client certificate chain")
                    || message.contains("certificate_required")) {
                return new PeerException(PeerException.Reason.BAD_CERTIFICATE, peer + " presented no client certificate:"
                        + " only nodes with a certificate of this cluster's CA (pmig certs init) are let in", failure);
            }
            if (t instanceof NotSslRecordException) {
                return new PeerException(PeerException.Reason.PROTOCOL, peer + " did not start TLS (it sent plaintext or another"
                        + " protocol, such as HTTP): a pmig node with plaintext = true, or no pmig node at all", failure);
            }
            if (t instanceof ClosedChannelException && !(failure instanceof SSLException)) {
                return new PeerException(PeerException.Reason.PROTOCOL, peer + " closed the connection before the TLS handshake"
                        + " (a port scan or a health check?)", failure);
            }
        }
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof SSLException && !(t instanceof NotSslRecordException)
                    && !String.valueOf(t.getMessage()).contains("PKIX path")) {
                return new PeerException(PeerException.Reason.PROTOCOL, "the TLS handshake with " + peer + " failed ("
                        + t.getMessage() + ")", failure);
            }
        }
        return classify(failure, peer, ca);
    }

    /** "connection refused" rather than netty's "finishConnect(..) failed with error(-111): Connection refused: /1.2.3.4:7700". */
    private static String connectError(Throwable t) {
        String message = String.valueOf(t.getMessage());
        for (String known : new String[] {"Connection refused", "No route to host", "Network is unreachable", "connection timed out"}) {
            if (message.contains(known)) {
                return known.toLowerCase(Locale.ROOT);
            }
        }
        return t instanceof UnknownHostException ? "unknown host " + message : message;
    }
}
