package io.pmig.checkpoint.image;

import static io.pmig.checkpoint.image.ImageFormat.*;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SelectableChannel;

// Reads an image from a channel record by record. It never reads past the END record, so the channel
// may carry other data afterwards, and it never asks for more bytes than the current record needs
// (plus the next frame header when those bytes are already there), so a sender may pause between records.
public final class ImageStreamReader implements Closeable {
    private static final int INITIAL_BUFFER = 16 * 1024;

    private final ReadableByteChannel channel;
    private final String sourceName;
    private final ImageParser parser;
    private final ByteBuffer frameHeader = ByteBuffer.allocate(FRAME_HEADER_SIZE);
    private ByteBuffer buffer = ByteBuffer.allocateDirect(INITIAL_BUFFER);
    private long bytesRead;
    private IOException failure;

    private ImageStreamReader(ReadableByteChannel channel, String sourceName) {
        this.channel = channel;
        this.sourceName = sourceName;
        this.parser = new ImageParser(sourceName);
    }

    public static ImageStreamReader open(ReadableByteChannel channel) throws IOException {
        return open(channel, "image stream");
    }

    // Reads and checks the preamble and the HEADER record before returning.
    public static ImageStreamReader open(ReadableByteChannel channel, String sourceName) throws IOException {
        if (channel instanceof SelectableChannel selectable && !selectable.isBlocking()) {
            throw new IllegalArgumentException("the image stream reader needs a blocking channel");
        }
        ImageStreamReader reader = new ImageStreamReader(channel, sourceName);
        reader.readPreamble();
        reader.readRecord();
        return reader;
    }

    public ImageHeader header() {
        return parser.header();
    }

    // null means END was read and its counts matched. Pages data points into the reader's buffer, to spare
    // a copy of every page, so it is valid only until the next call.
    public ImageRecord next() throws IOException {
        if (failure != null) {
            // The stream position is somewhere inside a bad record; nothing after it can be trusted.
            throw failure;
        }
        if (parser.ended()) {
            return null;
        }
        try {
            return readRecord();
        } catch (IOException e) {
            failure = e;
            throw e;
        }
    }

    public boolean finished() {
        return parser.ended();
    }

    public long bytesRead() {
        return bytesRead;
    }

    public void requireCompatibleWith(ImageHeader here) throws ImageException {
        parser.header().requireCompatibleWith(here, sourceName);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    int bufferCapacity() {
        return buffer.capacity();
    }

    private void readPreamble() throws IOException {
        ByteBuffer preamble = ByteBuffer.allocate(PREAMBLE_SIZE);
        fill(preamble, PREAMBLE_SIZE);
        parser.preamble(preamble.flip());
    }

    private ImageRecord readRecord() throws IOException {
        if (frameHeader.position() < FRAME_HEADER_SIZE) {
            fill(frameHeader, FRAME_HEADER_SIZE);
        }
        if (frameHeader.position() == 0) {
            parser.endOfInput();
        }
        if (frameHeader.position() < FRAME_HEADER_SIZE) {
            parser.truncatedFrameHeader(frameHeader.position());
        }
        int length = parser.frameHeader(frameHeader.flip(), -1);
        frameHeader.clear();
        int needed = length + CRC_SIZE;
        int wanted = needed + (parser.frameType() == TYPE_END ? 0 : FRAME_HEADER_SIZE);

        buffer.clear();
        while (buffer.position() < needed) {
            if (buffer.position() == buffer.capacity()) {
                grow(wanted);
            }
            buffer.limit(Math.min(buffer.capacity(), wanted));
            int n = channel.read(buffer);
            if (n < 0) {
                parser.truncatedRecord(buffer.position());
            }
            bytesRead += n;
        }
        for (int i = needed; i < buffer.position(); i++) {
            frameHeader.put(buffer.get(i));
        }
        int storedCrc = buffer.order(ByteOrder.LITTLE_ENDIAN).getInt(length);
        return parser.record(buffer.slice(0, length), storedCrc);
    }

    // Grows with the bytes actually received, so a corrupt length field cannot make us allocate 64 MiB.
    private void grow(int wanted) {
        int capacity = (int) Math.min(wanted, Math.max(2L * buffer.capacity(), INITIAL_BUFFER));
        ByteBuffer bigger = ByteBuffer.allocateDirect(capacity);
        bigger.put(buffer.flip());
        buffer = bigger;
    }

    private void fill(ByteBuffer dst, int upTo) throws IOException {
        dst.limit(upTo);
        while (dst.hasRemaining()) {
            int n = channel.read(dst);
            if (n < 0) {
                break;
            }
            bytesRead += n;
        }
    }
}
