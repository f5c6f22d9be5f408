package io.pmig.daemon.peer;

import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.pmig.daemon.config.Limits;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/** The handlers of one peer connection, the same on both sides: silence | [TLS] | length | frames | session. */
final class PeerPipeline {
    private PeerPipeline() {
    }

    /**
     * Sets up a channel and returns its session.
     *
     * @param expectedPeer the peer a client dialed; null on the server side
     */
    static PeerSession initialize(SocketChannel channel, boolean client, String localName, String expectedPeer,
            Set<String> acceptedPeers, PeerTls tls, PeerHandlers handlers, Limits limits, Clock clock) {
        PeerSession session = new PeerSession(channel, client, localName, expectedPeer, acceptedPeers, tls, handlers, limits,
                clock);
        ChannelPipeline pipeline = channel.pipeline();
        // first, so that every byte counts: the session sends a heartbeat when it wrote nothing for a
        // quarter of the silence limit, and ends when it heard nothing for the whole of it
        pipeline.addLast("silence", new IdleStateHandler(limits.peerSilenceMillis(), limits.peerSilenceMillis() / 4, 0,
                TimeUnit.MILLISECONDS));
        if (!tls.plaintext()) {
            pipeline.addLast("tls", client ? tls.client().newHandler(channel.alloc()) : tls.server().newHandler(channel.alloc()));
        }
        // a data frame is at most one chunk; a message at most the configured limit
        int maxFrame = Frame.HEADER_BYTES + Math.max(limits.maxMessageBytes(), OutboundStream.CHUNK_BYTES);
        pipeline.addLast("length", FrameCodec.lengthDecoder(maxFrame));
        pipeline.addLast("frames", new FrameCodec());
        pipeline.addLast("session", session.new Handler());
        return session;
    }
}
