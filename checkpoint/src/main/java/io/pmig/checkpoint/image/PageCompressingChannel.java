package io.pmig.checkpoint.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * A channel that says how the images written onto it compress their pages: {@link ImageWriter#to} asks it,
 * so whoever opens a stream decides, whichever engine writes the image.
 */
public interface PageCompressingChannel extends WritableByteChannel {
    PageCompression pageCompression();

    /** {@code out}, whose images compress their pages as {@code compression} says; closing it leaves {@code out} to its owner. */
    static PageCompressingChannel over(WritableByteChannel out, PageCompression compression) {
        return new PageCompressingChannel() {
            @Override
            public PageCompression pageCompression() {
                return compression;
            }

            @Override
            public int write(ByteBuffer source) throws IOException {
                return out.write(source);
            }

            @Override
            public boolean isOpen() {
                return out.isOpen();
            }

            @Override
            public void close() {
            }
        };
    }
}
