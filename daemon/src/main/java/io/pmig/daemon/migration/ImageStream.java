package io.pmig.daemon.migration;

import io.pmig.checkpoint.image.PageCompressingChannel;
import io.pmig.checkpoint.image.PageCompression;
import io.pmig.daemon.peer.OutboundStream;

import java.nio.ByteBuffer;

/**
 * A migration's image stream as the engine's image writers see it: the peer stream, and how the pages
 * written onto it are compressed (the migration's --compress). What the stream's owner does with it
 * (bandwidth, finish, abort) goes to the stream itself.
 */
final class ImageStream implements PageCompressingChannel {
    private final OutboundStream stream;
    private final PageCompression compression;

    ImageStream(OutboundStream stream, PageCompression compression) {
        this.stream = stream;
        this.compression = compression;
    }

    @Override
    public PageCompression pageCompression() {
        return compression;
    }

    @Override
    public int write(ByteBuffer source) {
        return stream.write(source);
    }

    @Override
    public boolean isOpen() {
        return stream.isOpen();
    }

    /** The stream is its owner's to finish or abort. */
    @Override
    public void close() {
    }
}
