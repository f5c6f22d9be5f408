package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.pmig.vip.hold.HoldRules;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An endpoint hold drops what is sent to one address and port, and nothing else: a connection attempt
 * to a closed port that is held hears nothing (no reset), one to the next port on the same address is
 * refused at once, and after the release the held port refuses again.
 */
class EndpointHoldTest extends TwoNamespaces {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final int HELD = 7101;
    private static final int NOT_HELD = 7102;

    @Test
    @Timeout(60)
    void onlyTheHeldEndpointIsSilent() throws Exception {
        try (HoldRules rules = HoldRules.install()) {
            InetSocketAddress held = new InetSocketAddress(LOOPBACK, HELD);
            rules.holdEndpoint(held);
            assertFalse(refusedWithin(held, 1000), "a connection to the held endpoint was answered");
            assertThrows(ConnectException.class, () -> refusedWithin(new InetSocketAddress(LOOPBACK, NOT_HELD), 20_000),
                "the port next to it is not held");
            rules.releaseEndpoint(held);
            assertThrows(ConnectException.class, () -> refusedWithin(held, 20_000), "released");
        }
    }

    /** Connects; throws the refusal if it comes within {@code millis}, returns false if nothing answered by then. */
    private static boolean refusedWithin(InetSocketAddress to, long millis) throws Exception {
        try (SocketChannel channel = SocketChannel.open(); Selector selector = Selector.open()) {
            channel.configureBlocking(false);
            if (channel.connect(to)) {
                return true;
            }
            channel.register(selector, SelectionKey.OP_CONNECT);
            if (selector.select(millis) == 0) {
                return false;
            }
            return channel.finishConnect();
        }
    }
}
