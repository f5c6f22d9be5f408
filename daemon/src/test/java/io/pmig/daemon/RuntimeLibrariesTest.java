package io.pmig.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.epoll.Epoll;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import io.pmig.checkpoint.image.PageCompression;
import io.pmig.daemon.peer.PeerTls;
import org.junit.jupiter.api.Test;

/**
 * The natives the daemon's pom declares for x86-64 Linux load: without them netty falls back
 * quietly (JDK TLS at a fraction of the throughput, NIO instead of epoll and no SO_PEERCRED).
 */
class RuntimeLibrariesTest {
    @Test
    void boringSslCarriesThePeerTls() {
        assertTrue(OpenSsl.isAvailable(), () -> "netty-tcnative-boringssl-static does not load: " + OpenSsl.unavailabilityCause());
        assertEquals("BoringSSL", OpenSsl.versionString());
        assertEquals(SslProvider.OPENSSL, PeerTls.PROVIDER);
    }

    @Test
    void zstdCompressesTheImageStreamsPages() {
        String unavailable = PageCompression.unavailable();
        assertNull(unavailable, unavailable);
    }

    @Test
    void epollIsAvailable() {
        assertTrue(Epoll.isAvailable(), () -> "netty-transport-native-epoll does not load: " + Epoll.unavailabilityCause());
    }
}
