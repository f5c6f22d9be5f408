package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.ListenerBacklog;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What a listener of this JVM holds, as the engine reads it: the connections it has not accepted, and the
 * handshakes under way to it (their client's final ACK dropped, so the kernel keeps a request in SYN_RECV).
 */
@Timeout(60)
class ListenerBacklogTest extends NetworkNamespaceSupport {
    @Test
    void aListenersQueueAndItsHandshakesUnderWayAreCounted() throws Exception {
        int pid = (int) ProcessHandle.current().pid();
        List<SocketChannel> clients = new ArrayList<>();
        try (ServerSocketChannel listener = ServerSocketChannel.open()) {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
            InetSocketAddress at = (InetSocketAddress) listener.getLocalAddress();
            assertEquals(List.of(new ListenerBacklog(at, 0, 0)), new CheckpointEngine().listenerBacklogs(pid));
            for (int i = 0; i < 3; i++) {
                clients.add(SocketChannel.open(at));
            }
            assertEquals(List.of(new ListenerBacklog(at, 3, 0)), new CheckpointEngine().listenerBacklogs(pid));
            run("nft", "add", "table", "inet", "pmigtest");
            run("nft", "add", "chain", "inet", "pmigtest", "in", "{ type filter hook input priority 0; }");
            run("nft", "add", "rule", "inet", "pmigtest", "in", "tcp", "dport", Integer.toString(at.getPort()),
                "tcp", "flags", "&", "(syn", "|", "ack)", "==", "ack", "drop");
            for (int i = 0; i < 2; i++) {
                clients.add(SocketChannel.open(at));    // the client's side completes: it got the SYN-ACK
            }
            assertEquals(List.of(new ListenerBacklog(at, 3, 2)), new CheckpointEngine().listenerBacklogs(pid));
            listener.accept().close();
            assertEquals(List.of(new ListenerBacklog(at, 2, 2)), new CheckpointEngine().listenerBacklogs(pid));
        } finally {
            for (SocketChannel c : clients) {
                c.close();
            }
        }
        assertEquals(List.of(), new CheckpointEngine().listenerBacklogs(pid), "a closed listener is no listener");
    }
}
