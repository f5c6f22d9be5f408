package io.pmig.checkpoint.it;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/** A connection that breaks after {@code limit} bytes, as one whose other end died: what came before goes to {@code out}. */
final class CutAfter implements WritableByteChannel {
    /** Where the bytes before the cut go; null: nowhere. */
    private final WritableByteChannel out;
    private long left;

    CutAfter(long limit) {
        this(null, limit);
    }

    CutAfter(WritableByteChannel out, long limit) {
        this.out = out;
        this.left = limit;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        if (left <= 0) {
            throw new IOException("connection reset (cut by the test)");
        }
        int n = (int) Math.min(left, src.remaining());
        ByteBuffer part = src.duplicate();
        part.limit(part.position() + n);
        int written = out == null ? n : out.write(part);
        src.position(src.position() + written);
        left -= written;
        return written;
    }

    @Override
    public boolean isOpen() {
        return out == null || out.isOpen();
    }

    @Override
    public void close() throws IOException {
        if (out != null) {
            out.close();
        }
    }
}
