package io.pmig.checkpoint;

import java.net.InetSocketAddress;

/** A TCP connection of a restored process, by its two ends: {@code local} is the service's side. */
public record TcpConnection(InetSocketAddress local, InetSocketAddress remote) {
    @Override
    public String toString() {
        return local + " -> " + remote;
    }
}
