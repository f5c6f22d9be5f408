package io.pmig.checkpoint;

import java.net.InetSocketAddress;

/**
 * A TCP listener of a process and the connections it holds that a checkpoint cannot take along:
 * {@code notAccepted}, complete and waiting in its accept queue; {@code handshakes}, requests to its
 * address and port whose handshake is under way (SYN_RECV: the kernel keeps them beside the listener,
 * and neither they nor the queue can be put back into a restored listener).
 */
public record ListenerBacklog(InetSocketAddress local, int notAccepted, int handshakes) {
    /** Whether nothing waits: the listener may be checkpointed. */
    public boolean settled() {
        return notAccepted == 0 && handshakes == 0;
    }

    @Override
    public String toString() {
        String host = local.getAddress().getHostAddress();
        return "listening TCP socket " + (host.contains(":") ? "[" + host + "]" : host) + ":" + local.getPort() + " ("
            + notAccepted + " connection(s) not accepted, " + handshakes + " handshake(s) under way)";
    }
}
