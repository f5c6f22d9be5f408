package io.pmig.vip.dns;

import java.time.Duration;
import org.xbill.DNS.Name;
import org.xbill.DNS.TextParseException;

/**
 * Where and how a node registers its services' names: the zone's primary server ({@code server},
 * a host name or IP address, and {@code port}), the zone the names live in, the TTL of the records,
 * the TSIG key the updates are signed with, and how long the server may take to answer.
 */
public record DnsSettings(String server, int port, String zone, Duration ttl, TsigKey key, Duration timeout) {
    public static final int DEFAULT_PORT = 53;
    public static final Duration DEFAULT_TTL = Duration.ofSeconds(60);
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

    public DnsSettings {
        if (server.isEmpty() || port < 1 || port > 65535) {
            throw new IllegalArgumentException("a DNS server needs a host and a port from 1 to 65535, not '" + server + "' port " + port);
        }
        zone = zone.endsWith(".") ? zone : zone + ".";
        try {
            Name.fromString(zone);
        } catch (TextParseException e) {
            throw new IllegalArgumentException("'" + zone + "' is not a zone name (such as pmig.test or example.com): " + e.getMessage());
        }
        if (zone.equals(".")) {
            throw new IllegalArgumentException("the root is not a zone pmig registers names in: name one such as example.com");
        }
        if (ttl.isNegative() || ttl.toSeconds() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a TTL is 0 to " + Integer.MAX_VALUE + " seconds, not " + ttl.toSeconds());
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the DNS timeout must be positive, not " + timeout.toMillis() + " ms");
        }
    }

    /** The server as "host:port" ("[v6]:port"), for messages. */
    public String serverAddress() {
        return (server.indexOf(':') >= 0 ? "[" + server + "]" : server) + ":" + port;
    }
}
