package io.pmig.checkpoint.postcopy;

import io.pmig.checkpoint.memory.MemoryDumper;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The two directions of a post-copy page link (docs/checkpoint-engine.md, "Post-copy"). Source to destination: frames
 * of a header (the first page's address as the source saw it, the page count) and the pages; a frame with address
 * {@link #END} and no page says every page left behind was sent. Destination to source: a page's address per request
 * (as the source saw it), {@link #KEEPALIVE} when the copy asked for nothing for a while (a link may take silence for
 * death), and {@link #END} once every page is in place. Little-endian, as the images are.
 */
final class PageStream {
    static final int PAGE = MemoryDumper.PAGE;
    static final long END = -1;
    static final long KEEPALIVE = -2;
    /** The longest the destination stays silent: well below any idle timeout of a link. */
    static final long KEEPALIVE_NANOS = 1_000_000_000L;
    static final int HEADER_BYTES = 12;
    /** Pages in a frame at most: a fault waits for the frame being sent, 64 KiB, before its own goes out. */
    static final int FRAME_PAGES = 16;

    private PageStream() {
    }

    static ByteBuffer frameBuffer() {
        return ByteBuffer.allocateDirect(HEADER_BYTES + FRAME_PAGES * PAGE).order(ByteOrder.LITTLE_ENDIAN);
    }

    static void readFully(ReadableByteChannel in, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (in.read(b) < 0) {
                throw new EOFException("the page link ended");
            }
        }
    }

    static void writeFully(WritableByteChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

    /** One address (a request, or the end), written whole. */
    static void writeAddress(WritableByteChannel out, long address) throws IOException {
        writeFully(out, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, address));
    }

    static long readAddress(ReadableByteChannel in) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(in, b);
        return b.getLong(0);
    }
}
