package io.pmig.checkpoint.it;

import io.pmig.checkpoint.image.PageCompressingChannel;
import io.pmig.checkpoint.image.PageCompression;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** A channel whose images compress their pages as {@code compression} says, as the daemon's migration stream does. */
final class CompressingSink implements PageCompressingChannel {
    private final WritableByteChannel out;
    private final PageCompression compression;

    CompressingSink(WritableByteChannel out, PageCompression compression) {
        this.out = out;
        this.compression = compression;
    }

    @Override
    public PageCompression pageCompression() {
        return compression;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return out.write(src);
    }

    @Override
    public boolean isOpen() {
        return out.isOpen();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
