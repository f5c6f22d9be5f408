package io.pmig.daemon.peer;

import io.netty.buffer.ByteBuf;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.util.ArrayDeque;

/**
 * The receiving end of a data stream from a peer, handed to a {@link StreamHandler}: an InputStream
 * and a ReadableByteChannel. Reading returns credit to the sender, so at most
 * limits.stream.window.bytes wait here. Reads block until data arrives, and fail with
 * PeerException when the sender aborts, the connection closes, or nothing arrives for
 * limits.request.timeout.millis. End of stream (-1) comes only after the sender finished.
 */
public final class InboundStream extends InputStream implements ReadableByteChannel {
    private final PeerSession session;
    private final long id;
    private final String type;
    private final int window;
    private final Object lock = new Object();
    private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
    private long granted;
    private long received;
    private long consumed;
    private long consumedSinceGrant;
    private boolean end;
    private boolean closed;
    private PeerException failure;

    InboundStream(PeerSession session, long id, String type, int window) {
        this.session = session;
        this.id = id;
        this.type = type;
        this.window = window;
        this.granted = window;
    }

    @Override
    public int read() {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] bytes) {
        return read(bytes, 0, bytes.length);
    }

    @Override
    public int read(byte[] bytes, int offset, int length) {
        return read(ByteBuffer.wrap(bytes, offset, length));
    }

    @Override
    public int read(ByteBuffer target) {
        if (!target.hasRemaining()) {
            return 0;
        }
        int n;
        synchronized (lock) {
            ByteBuf head = awaitData();
            if (head == null) {
                return -1;
            }
            n = Math.min(target.remaining(), head.readableBytes());
            ByteBuffer slice = target.slice();
            slice.limit(n);
            head.readBytes(slice);
            target.position(target.position() + n);
            dropIfEmpty(head);
        }
        consumed(n);
        return n;
    }

    @Override
    public int available() {
        synchronized (lock) {
            return (int) Math.min(Integer.MAX_VALUE, received - consumed);
        }
    }

    /** Bytes read so far. */
    public long bytesRead() {
        synchronized (lock) {
            return consumed;
        }
    }

    /** The type of the stream's header. */
    public String type() {
        return type;
    }

    @Override
    public boolean isOpen() {
        synchronized (lock) {
            return !closed;
        }
    }

    /** Discards what is queued; what still arrives is dropped. */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            queue.forEach(ByteBuf::release);
            queue.clear();
            lock.notifyAll();
        }
    }

    // ---- from the event loop ----

    /** Takes ownership of one data frame's payload. */
    void offer(ByteBuf data) {
        synchronized (lock) {
            received += data.readableBytes();
            if (received > granted) {
                data.release();
                throw new PeerException(PeerException.Reason.PROTOCOL, session.describePeer() + " sent " + (received - granted)
                        + " bytes of the " + type + " stream beyond the credit it was given");
            }
            if (closed) {
                data.release();
                return;
            }
            queue.add(data);
            lock.notifyAll();
        }
    }

    void end() {
        synchronized (lock) {
            end = true;
            lock.notifyAll();
        }
    }

    /** The stream cannot go on; a stream the sender had finished keeps what arrived, all of it. */
    void fail(PeerException reason) {
        synchronized (lock) {
            if (!end && failure == null) {
                failure = reason;
            }
            lock.notifyAll();
        }
    }

    // ---- reading ----

    /** The first buffer with data, null at the end of the stream; throws on failure or idle timeout. */
    private ByteBuf awaitData() {
        long timeoutMillis = session.limits().requestTimeoutMillis();
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (true) {
            if (closed) {
                throw new IllegalStateException("the " + type + " stream is closed");
            }
            if (!queue.isEmpty()) {
                return queue.peek();
            }
            if (failure != null) {
                throw failure;
            }
            if (end) {
                return null;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new PeerException(PeerException.Reason.TIMEOUT, session.describePeer() + " sent nothing of the " + type
                        + " stream for " + timeoutMillis + " ms");
            }
            try {
                lock.wait(Math.max(1, left / 1_000_000L));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new PeerException(PeerException.Reason.CLOSED, "interrupted while reading the " + type + " stream", e);
            }
        }
    }

    private void dropIfEmpty(ByteBuf head) {
        if (!head.isReadable()) {
            queue.poll().release();
        }
    }

    /** Returns credit to the sender once a quarter of the window was read: few credit frames, no stall. */
    private void consumed(int n) {
        int grant = 0;
        synchronized (lock) {
            consumed += n;
            consumedSinceGrant += n;
            if (consumedSinceGrant >= window / 4 && !end && !closed) {
                grant = (int) consumedSinceGrant;
                granted += grant;
                consumedSinceGrant = 0;
            }
        }
        if (grant > 0) {
            session.write(Frame.credit(session.alloc(), id, grant));
        }
    }
}
