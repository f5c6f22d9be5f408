package io.pmig.checkpoint.image;

import java.nio.channels.WritableByteChannel;

/**
 * A channel that says how the images written onto it compress their pages: {@link ImageWriter#to} asks it,
 * so whoever opens a stream decides, whichever engine writes the image.
 */
public interface PageCompressingChannel extends WritableByteChannel {
    PageCompression pageCompression();
}
