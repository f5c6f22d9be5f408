package io.pmig.daemon.peer;

import io.netty.buffer.ByteBuf;
import io.pmig.daemon.config.Bandwidth;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * The sending end of a data stream to a peer ({@link PeerSession#openStream}): an OutputStream and
 * a WritableByteChannel. Writes block while the receiver has no room (its credit is used up), so
 * a multi-hundred-megabyte image flows at the receiver's pace with a bounded amount in flight;
 * a stream opened with a {@link Bandwidth} limit also waits, before each frame, to keep to it.
 * {@link #finish()} ends the stream and returns the receiver's answer; {@link #close()} on a
 * stream not finished aborts it. Not for use by several threads at once.
 */
public final class OutboundStream extends OutputStream implements WritableByteChannel {
    /** Largest data frame: large enough to keep per-frame costs small, small enough to interleave with requests. */
    static final int CHUNK_BYTES = 128 * 1024;

    private final PeerSession session;
    private final long id;
    private final String type;
    private final CompletableFuture<Message> reply;
    private final Object lock = new Object();
    private Bandwidth bandwidth;
    /** Null when the bandwidth is unlimited. */
    private TokenBucket pace;
    private long credit;
    private Throwable ended;
    private boolean replied;
    private boolean finished;
    private long written;

    OutboundStream(PeerSession session, long id, String type, CompletableFuture<Message> reply, Bandwidth bandwidth) {
        this.session = session;
        this.id = id;
        this.type = type;
        this.reply = reply;
        setBandwidth(bandwidth);
    }

    @Override
    public void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] bytes) {
        write(bytes, 0, bytes.length);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) {
        write(ByteBuffer.wrap(bytes, offset, length));
    }

    @Override
    public int write(ByteBuffer source) {
        int total = source.remaining();
        while (source.hasRemaining()) {
            int n = awaitCredit(Math.min(source.remaining(), CHUNK_BYTES));
            keepPace(n);
            ByteBuf chunk = session.alloc().directBuffer(n);
            ByteBuffer slice = source.slice();
            slice.limit(n);
            chunk.writeBytes(slice);
            source.position(source.position() + n);
            session.write(new Frame(Frame.Kind.STREAM_DATA, id, chunk));
            written += n;
        }
        return total;
    }

    /** Bytes written so far. */
    public long bytesWritten() {
        return written;
    }

    /** The rate this stream keeps to. */
    public Bandwidth bandwidth() {
        return bandwidth;
    }

    /** From the next write on, the stream keeps to {@code limit} instead. */
    public void setBandwidth(Bandwidth limit) {
        bandwidth = limit;
        pace = limit.limited() ? new TokenBucket(limit, CHUNK_BYTES) : null;
    }

    /** Ends the stream and waits (at most limits.request.timeout.millis) for the receiving handler's answer. */
    public Message finish() {
        return finish(Duration.ofMillis(session.limits().requestTimeoutMillis()));
    }

    /** Ends the stream and waits at most {@code timeout} for the receiving handler's answer; fails with PeerException. */
    public Message finish(Duration timeout) {
        synchronized (lock) {
            if (!finished) {
                finished = true;
                if (!replied) {
                    session.write(Frame.empty(Frame.Kind.STREAM_END, id));
                }
            }
        }
        return session.await(reply, timeout, "the answer to the " + type + " stream");
    }

    /** Gives up on the stream: the receiving handler's reads fail with {@code reason}. */
    public void abort(String reason) {
        synchronized (lock) {
            if (finished || replied) {
                return;
            }
            finished = true;
            ended = new PeerException(PeerException.Reason.CLOSED, "the " + type + " stream was aborted: " + reason);
            lock.notifyAll();
        }
        session.write(Frame.text(session.alloc(), Frame.Kind.STREAM_ABORT, id, reason));
        reply.completeExceptionally(ended);
    }

    @Override
    public boolean isOpen() {
        synchronized (lock) {
            return !finished && !replied;
        }
    }

    /** Aborts the stream unless {@link #finish()} ran: leaving a try-with-resources block early never looks like success. */
    @Override
    public void close() {
        abort("the sender closed it before finishing");
    }

    /** The receiver granted {@code bytes} more. */
    void credit(int bytes) {
        synchronized (lock) {
            credit += bytes;
            lock.notifyAll();
        }
    }

    /** The receiver answered (error null) or failed, or the session ended: writes stop. */
    void ended(Throwable error) {
        synchronized (lock) {
            replied = true;
            if (ended == null) {
                ended = error != null ? error : new PeerException(PeerException.Reason.REMOTE, session.describePeer()
                        + " answered the " + type + " stream before it was finished");
            }
            lock.notifyAll();
        }
    }

    private void keepPace(int bytes) {
        if (pace == null) {
            return;
        }
        try {
            pace.take(bytes);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PeerException(PeerException.Reason.CLOSED, "interrupted while writing the " + type + " stream", e);
        }
    }

    private int awaitCredit(int wanted) {
        long timeoutMillis = session.limits().requestTimeoutMillis();
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        synchronized (lock) {
            while (credit == 0 && ended == null && !finished) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new PeerException(PeerException.Reason.TIMEOUT, session.describePeer() + " read nothing of the "
                            + type + " stream for " + timeoutMillis + " ms");
                }
                try {
                    lock.wait(Math.max(1, left / 1_000_000L));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new PeerException(PeerException.Reason.CLOSED, "interrupted while writing the " + type + " stream", e);
                }
            }
            if (ended != null) {
                throw ended instanceof PeerException p ? p : Failures.classify(ended, session.describePeer(), null);
            }
            if (finished) {
                throw new IllegalStateException("the " + type + " stream is finished: nothing more can be written");
            }
            int n = (int) Math.min(credit, wanted);
            credit -= n;
            return n;
        }
    }
}
