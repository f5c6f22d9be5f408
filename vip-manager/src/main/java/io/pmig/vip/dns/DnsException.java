package io.pmig.vip.dns;

/**
 * A DNS update or check was refused or failed. The message names the FQDN (where there is one),
 * the server, the zone, what the server answered (rcode, TSIG error) and the remedy. A failed
 * update changes nothing else: the caller's service is left as it is.
 */
public final class DnsException extends Exception {
    public DnsException(String message) {
        super(message);
    }

    public DnsException(String message, Throwable cause) {
        super(message, cause);
    }
}
