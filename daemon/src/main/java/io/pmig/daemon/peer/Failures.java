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
