package io.pmig.checkpoint;

import java.net.InetSocketAddress;

/** A TCP connection of a restored process, by its two ends: {@code local} is the service's side. */
public record TcpConnection(InetSocketAddress local, InetSocketAddress remote) {
    @Override
    public String toString() {
        return endpoint(local) + " -> " + endpoint(remote);
    }

    /** "10.0.0.5:80", "[fd00::5]:80". */
    private static String endpoint(InetSocketAddress a) {
        String host = a.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }
}
