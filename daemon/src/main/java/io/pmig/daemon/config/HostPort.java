package io.pmig.daemon.config;

import java.net.InetSocketAddress;

/** A host (name or IP literal) and a TCP port, as written in the configuration: "10.77.0.12:7700", "[::1]:7700". */
public record HostPort(String host, int port) {
    public HostPort {
        if (host.isEmpty() || port < 0 || port > 65535) {
            throw new IllegalArgumentException("bad address " + host + ":" + port);
        }
    }

    /** Parses HOST:PORT, [IPV6]:PORT, or HOST alone with {@code defaultPort}. */
    public static HostPort parse(String text, int defaultPort) {
        String value = text.strip();
        String host;
        String port = null;
        if (value.startsWith("[")) {
            int close = value.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("'" + text + "' opens '[' without closing it");
            }
            host = value.substring(1, close);
            if (close + 1 < value.length()) {
                if (value.charAt(close + 1) != ':') {
                    throw new IllegalArgumentException("'" + text + "' has something other than :PORT after ']'");
                }
                port = value.substring(close + 2);
            }
        } else {
            int colon = value.lastIndexOf(':');
            if (colon >= 0 && value.indexOf(':') != colon) {
                throw new IllegalArgumentException("'" + text + "' looks like an IPv6 address: write it as [ADDRESS]:PORT");
            }
            host = colon < 0 ? value : value.substring(0, colon);
            port = colon < 0 ? null : value.substring(colon + 1);
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("'" + text + "' has no host");
        }
        int number = defaultPort;
        if (port != null) {
            try {
                number = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + text + "' has a port that is not a number: '" + port + "'");
            }
            if (number < 0 || number > 65535) {
                throw new IllegalArgumentException("'" + text + "' has port " + number + ", outside 0..65535");
            }
        }
        return new HostPort(host, number);
    }

    /** The same port on another host (a listen address of 0.0.0.0 becomes one to connect to). */
    public HostPort withHost(String other) {
        return new HostPort(other, port);
    }

    /** An address to connect or bind to; resolved when used, so a name that does not resolve fails there. */
    public InetSocketAddress socketAddress() {
        return new InetSocketAddress(host, port);
    }

    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
