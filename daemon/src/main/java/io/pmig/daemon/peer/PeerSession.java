package io.pmig.daemon.peer;

import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.pmig.daemon.config.Bandwidth;
import io.pmig.daemon.config.Limits;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * One authenticated connection with a peer daemon, whichever side opened it. Both sides may send
 * requests ({@link #request}) and open data streams ({@link #openStream}); what arrives is answered
 * by the {@link PeerHandlers} of this node. The session is usable once both hellos are exchanged
 * (PeerClient.connect returns it then); it fails everything under way when the connection closes.
 */
public final class PeerSession implements AutoCloseable {
    static final int PROTOCOL_VERSION = 7;
    static final String HELLO = "hello";

    /** Hello body: who is speaking, which protocol, and the sender's realtime clock (ns since the epoch) as it sent it. */
    record Hello(String node, int protocol, long clockNanos) {
    }

    private final Channel channel;
    private final boolean client;
    private final String localName;
    /** Client side: the peer this node dialed. Server side: null. */
    private final String expectedPeer;
    /** The names this node accepts as peers. */
    private final Set<String> acceptedPeers;
    private final PeerTls tls;
    private final PeerHandlers handlers;
    private final Limits limits;
    private final Clock clock;
    /** This node's clock, and System.nanoTime, when it sent its hello. */
    private volatile Instant helloSentAt;
    private volatile long helloSentNanos;
    private volatile ClockSkew clockSkew;
    private final CompletableFuture<PeerSession> ready = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<Long, CompletableFuture<Message>> pending = new ConcurrentHashMap<>();
    private final Map<Long, OutboundStream> outbound = new ConcurrentHashMap<>();
    private final Map<Long, InboundStream> inbound = new ConcurrentHashMap<>();
    private volatile String certificateName;
    private volatile String peerName;
    private volatile PeerException failure;

    PeerSession(Channel channel, boolean client, String localName, String expectedPeer, Set<String> acceptedPeers,
            PeerTls tls, PeerHandlers handlers, Limits limits, Clock clock) {
        this.channel = channel;
        this.client = client;
        this.localName = localName;
        this.expectedPeer = expectedPeer;
        this.acceptedPeers = acceptedPeers;
        this.tls = tls;
        this.handlers = handlers;
        this.limits = limits;
        this.clock = clock;
    }

    // ---- the API ----

    /** The authenticated name of the peer (its certificate's name; in plaintext mode the name it sent). */
    public String peerName() {
        return peerName;
    }

    /** How far the peer's realtime clock was from this node's when the session started. */
    public ClockSkew clockSkew() {
        return clockSkew;
    }

    public SocketAddress remoteAddress() {
        return channel.remoteAddress();
    }

    /** Whether the connection is TLS (false only in the configured plaintext mode). */
    public boolean encrypted() {
        return !tls.plaintext();
    }

    public boolean isOpen() {
        return channel.isActive() && failure == null;
    }

    /** Sends a request and waits for its response, at most limits.request.timeout.millis. */
    public Message request(Message request) {
        return request(request, Duration.ofMillis(limits.requestTimeoutMillis()));
    }

    /** Sends a request and waits for its response at most {@code timeout}; fails with PeerException. */
    public Message request(Message request, Duration timeout) {
        return await(send(request), timeout, "the response to " + request.type());
    }

    /** Sends a request; the future completes with the response or a PeerException. */
    public CompletableFuture<Message> send(Message request) {
        requireSendable(request);
        CompletableFuture<Message> response = new CompletableFuture<>();
        sendAwaiting(Frame.Kind.REQUEST, nextId.getAndIncrement(), request, response);
        return response;
    }

    /**
     * Opens a data stream towards the peer's stream handler for {@code header.type()}. Write the data
     * into the returned stream (writes block while the receiver is behind), then
     * {@link OutboundStream#finish()} for the handler's answer; closing it unfinished aborts it.
     */
    public OutboundStream openStream(Message header) {
        return openStream(header, Bandwidth.UNLIMITED);
    }

    /** {@link #openStream(Message)} whose writes also keep to {@code bandwidth}. */
    public OutboundStream openStream(Message header, Bandwidth bandwidth) {
        requireSendable(header);
        long id = nextId.getAndIncrement();
        CompletableFuture<Message> reply = new CompletableFuture<>();
        OutboundStream stream = new OutboundStream(this, id, header.type(), reply, bandwidth);
        outbound.put(id, stream);
        reply.whenComplete((message, error) -> {
            outbound.remove(id);
            stream.ended(error);
        });
        sendAwaiting(Frame.Kind.STREAM_OPEN, id, header, reply);
        return stream;
    }

    /** Sends a frame whose answer (RESPONSE or FAILURE with its id) completes {@code answer}; fails it at once on a dead session. */
    private void sendAwaiting(Frame.Kind kind, long id, Message message, CompletableFuture<Message> answer) {
        pending.put(id, answer);
        PeerException already = failure; // read after the put: fail() sets it before it fails what is pending
        if (already != null) {
            pending.remove(id);
            answer.completeExceptionally(already);
            return;
        }
        write(Frame.message(alloc(), kind, id, message));
    }

    /** Completes when the connection is closed, whichever side closed it. */
    public CompletableFuture<Void> closed() {
        return closed;
    }

    /** Closes the connection and waits until it is closed; not from an event loop (use {@link #closeAsync()} there). */
    @Override
    public void close() {
        channel.close().syncUninterruptibly();
    }

    /** Starts closing the connection; {@link #closed()} completes when it is. */
    public void closeAsync() {
        channel.close();
    }

    @Override
    public String toString() {
        return "PeerSession[" + (peerName == null ? describePeer() : peerName) + ", " + (client ? "outbound" : "inbound")
                + (encrypted() ? ", TLS" : ", plaintext") + "]";
    }

    // ---- used by the streams, the client and the server ----

    CompletableFuture<PeerSession> ready() {
        return ready;
    }

    Limits limits() {
        return limits;
    }

    ByteBufAllocator alloc() {
        return channel.alloc();
    }

    void write(Frame frame) {
        channel.writeAndFlush(frame).addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
    }

    /** Why the session is no longer usable, or null. */
    PeerException failure() {
        return failure;
    }

    /** "node-b at 10.77.0.12:7700" or "the peer at 10.77.0.11:41234". */
    String describePeer() {
        String name = peerName != null ? peerName : expectedPeer;
        return (name == null ? "the peer" : name) + " at " + addressText(channel.remoteAddress());
    }

    <T> T await(CompletableFuture<T> future, Duration timeout, String what) {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new PeerException(PeerException.Reason.TIMEOUT, describePeer() + " did not send " + what + " within "
                    + timeout.toMillis() + " ms", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof PeerException p ? p : Failures.classify(e.getCause(), describePeer(), tls.ca());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PeerException(PeerException.Reason.CLOSED, "interrupted while waiting for " + what + " from "
                    + describePeer(), e);
        }
    }

    private void requireSendable(Message message) {
        int size = 1 + message.type().length() + message.body().length;
        if (size > limits.maxMessageBytes()) {
            throw new IllegalArgumentException("a " + message.type() + " message of " + size + " bytes exceeds"
                    + " limits.max.message.bytes = " + limits.maxMessageBytes() + "; send the bulk as a stream");
        }
        if (peerName == null) {
            throw new IllegalStateException("the session with " + describePeer() + " is not established yet");
        }
    }

    /** "10.77.0.12:7700", without the "hostname/" that InetSocketAddress.toString puts first. */
    static String addressText(SocketAddress address) {
        if (address instanceof InetSocketAddress inet && inet.getAddress() != null) {
            String host = inet.getAddress().getHostAddress();
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + inet.getPort();
        }
        return String.valueOf(address);
    }

    /** Ends the session with a reason: everything under way fails with it, the connection closes. */
    private void fail(PeerException reason) {
        if (failure == null) {
            failure = reason;
        }
        PeerException why = failure;
        ready.completeExceptionally(why);
        pending.values().forEach(f -> f.completeExceptionally(why));
        pending.clear();
        inbound.values().forEach(s -> s.fail(why));
        inbound.clear();
        // a writer waiting for credit wakes now, not when the close (a TLS goodbye to a silent peer) completes
        outbound.values().forEach(s -> s.ended(why));
        channel.close();
    }

    // ---- the netty side ----

    /** The last handler of the pipeline: the handshake checks, the hello exchange and the dispatch of frames. */
    final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            // a connection that never completes TLS and the hellos must not hold a channel forever
            ctx.executor().schedule(() -> {
                if (!ready.isDone()) {
                    fail(new PeerException(PeerException.Reason.TIMEOUT, describePeer() + " did not complete TLS and the"
                            + " hellos within " + limits.connectTimeoutMillis() + " ms (limits.connect.timeout.millis)"));
                }
            }, limits.connectTimeoutMillis(), TimeUnit.MILLISECONDS);
            if (tls.plaintext() && client) {
                sendHello();
            }
            ctx.fireChannelActive();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof IdleStateEvent idle) {
                if (!ready.isDone() || failure != null) {
                    return; // the handshake has a timeout of its own (limits.connect.timeout.millis)
                }
                if (idle.state() == IdleState.READER_IDLE) {
                    fail(new PeerException(PeerException.Reason.TIMEOUT, "heard nothing from " + describePeer() + " for "
                            + limits.peerSilenceMillis() + " ms (limits.peer.silence.millis): the network between the nodes"
                            + " may be cut, or the peer stuck"));
                } else {
                    write(Frame.empty(Frame.Kind.HEARTBEAT, 0));
                }
                return;
            }
            if (event instanceof SslHandshakeCompletionEvent handshake) {
                if (!handshake.isSuccess()) {
                    fail(classify(handshake.cause()));
                } else {
                    handshakeDone(ctx);
                }
                return;
            }
            ctx.fireUserEventTriggered(event);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Frame frame = (Frame) msg;
            boolean handedOver = false;
            try {
                handedOver = dispatch(frame);
            } catch (PeerException e) {
                fail(e);
            } finally {
                if (!handedOver) {
                    frame.payload().release();
                }
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(classify(cause));
        }

        /** A connection accepted but not yet a session is somebody unknown: say what it did, not what a peer would mean. */
        private PeerException classify(Throwable cause) {
            return client || ready.isDone() ? Failures.classify(cause, describePeer(), tls.ca())
                    : Failures.classifyAccepted(cause, describePeer(), tls.ca());
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            fail(new PeerException(ready.isDone() ? PeerException.Reason.CLOSED : PeerException.Reason.PROTOCOL,
                    ready.isDone() ? "the connection with " + describePeer() + " closed"
                            : describePeer() + " closed the connection before its hello" + (tls.plaintext()
                                    ? " (does it require TLS? plaintext = true must be set on both sides)" : "")));
            outbound.values().forEach(s -> s.ended(failure));
            outbound.clear();
            closed.complete(null);
        }
    }

    /** TLS is up: check the name in the peer's certificate, then (client) say hello. */
    private void handshakeDone(ChannelHandlerContext ctx) {
        String name;
        try {
            Certificate[] chain = ctx.pipeline().get(SslHandler.class).engine().getSession().getPeerCertificates();
            name = PeerTls.nameOf((X509Certificate) chain[0]).orElse("(no name)");
        } catch (SSLPeerUnverifiedException e) {
            fail(new PeerException(PeerException.Reason.BAD_CERTIFICATE, describePeer() + " presented no certificate", e));
            return;
        }
        if (client && !name.equals(expectedPeer)) {
            fail(new PeerException(PeerException.Reason.BAD_CERTIFICATE, describePeer() + " presented the certificate of '"
                    + name + "', not of " + expectedPeer + ": is the address of peer." + expectedPeer + " right?"));
            return;
        }
        if (!client && !acceptedPeers.contains(name)) {
            refuse(new PeerException(PeerException.Reason.REFUSED, localName + " refuses " + describePeer() + ": its certificate"
                    + " is for '" + name + "', which is not among " + localName + "'s peers (" + String.join(", ", acceptedPeers)
                    + "): add peer." + name + " to " + localName + "'s configuration if it is one"));
            return;
        }
        certificateName = name;
        if (client) {
            sendHello();
        }
    }

    private void sendHello() {
        helloSentAt = clock.instant();
        helloSentNanos = System.nanoTime();
        Hello hello = new Hello(localName, PROTOCOL_VERSION, epochNanos(helloSentAt));
        channel.writeAndFlush(Frame.message(alloc(), Frame.Kind.HELLO, 0, Message.json(HELLO, hello)))
                .addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
    }

    /** Server side: tell the client why, then close. */
    private void refuse(PeerException reason) {
        failure = reason;
        channel.writeAndFlush(Frame.text(alloc(), Frame.Kind.FAILURE, 0, reason.getMessage()))
                .addListener(ChannelFutureListener.CLOSE);
        ready.completeExceptionally(reason);
    }

    /** Handles one frame; returns true when its payload was handed on (to an inbound stream). */
    private boolean dispatch(Frame frame) {
        if (frame.kind() == Frame.Kind.HEARTBEAT) {
            return false; // it did its work by arriving: the silence timer starts again
        }
        if (!ready.isDone() || failure != null) {
            if (failure != null) {
                return false; // refused or failed: what still arrives is dropped
            }
            switch (frame.kind()) {
                case HELLO -> receiveHello(frame.toMessage());
                case FAILURE -> fail(new PeerException(PeerException.Reason.REFUSED, frame.toText()));
                default -> throw new PeerException(PeerException.Reason.PROTOCOL, describePeer() + " sent " + frame.kind()
                        + " before its hello");
            }
            return false;
        }
        switch (frame.kind()) {
            case REQUEST -> answer(frame.id(), frame.toMessage());
            case RESPONSE -> complete(frame.id(), frame.toMessage());
            case FAILURE -> {
                if (frame.id() == 0) {
                    fail(new PeerException(PeerException.Reason.REFUSED, frame.toText()));
                } else {
                    failRequest(frame.id(), frame.toText());
                }
            }
            case STREAM_OPEN -> receiveStream(frame.id(), frame.toMessage());
            case STREAM_DATA -> {
                InboundStream stream = inbound.get(frame.id());
                if (stream != null) {
                    stream.offer(frame.payload());
                    return true;
                }
            }
            case STREAM_END -> {
                InboundStream stream = inbound.get(frame.id());
                if (stream != null) {
                    stream.end();
                }
            }
            case STREAM_ABORT -> {
                InboundStream stream = inbound.remove(frame.id());
                if (stream != null) {
                    stream.fail(new PeerException(PeerException.Reason.REMOTE, describePeer() + " aborted the stream: "
                            + frame.toText()));
                }
            }
            case STREAM_CREDIT -> {
                OutboundStream stream = outbound.get(frame.id());
                if (stream != null) {
                    stream.credit(frame.toCredit());
                }
            }
            case HELLO -> throw new PeerException(PeerException.Reason.PROTOCOL, describePeer() + " sent a second hello");
        }
        return false;
    }

    private void receiveHello(Message message) {
        long arrivedNanos = System.nanoTime();
        Instant arrived = clock.instant();
        Hello hello = message.bodyAs(Hello.class);
        if (hello.protocol() != PROTOCOL_VERSION) {
            throw new PeerException(PeerException.Reason.PROTOCOL, describePeer() + " speaks peer protocol " + hello.protocol()
                    + ", this node " + PROTOCOL_VERSION + ": run the same pmig version on both");
        }
        String claimed = hello.node();
        if (certificateName != null && !claimed.equals(certificateName)) {
            throw new PeerException(PeerException.Reason.BAD_CERTIFICATE, describePeer() + " says it is '" + claimed
                    + "' but its certificate is for '" + certificateName + "'");
        }
        if (client && !claimed.equals(expectedPeer)) {
            throw new PeerException(PeerException.Reason.REFUSED, describePeer() + " says it is '" + claimed + "', not "
                    + expectedPeer + ": is the address of peer." + expectedPeer + " right?");
        }
        if (!client && !acceptedPeers.contains(claimed)) {
            refuse(new PeerException(PeerException.Reason.REFUSED, localName + " refuses '" + claimed + "' from "
                    + addressText(channel.remoteAddress()) + ": it is not among " + localName + "'s peers ("
                    + String.join(", ", acceptedPeers) + ")"));
            return;
        }
        peerName = claimed;
        Instant there = Instant.ofEpochSecond(0, hello.clockNanos());
        // the dialing side sent first: the peer read its clock about half a round trip after that
        long halfRoundTrip = client ? (arrivedNanos - helloSentNanos) / 2 : 0;
        clockSkew = new ClockSkew(client ? helloSentAt.plusNanos(halfRoundTrip) : arrived, there, Duration.ofNanos(halfRoundTrip));
        if (!client) {
            sendHello();
        }
        ready.complete(this);
    }

    private static long epochNanos(Instant instant) {
        return instant.getEpochSecond() * 1_000_000_000L + instant.getNano();
    }

    private void answer(long id, Message request) {
        RequestHandler handler = handlers.request(request.type());
        if (handler == null) {
            write(Frame.text(alloc(), Frame.Kind.FAILURE, id, localName + " has no handler for requests of type '"
                    + request.type() + "'"));
            return;
        }
        handlers.executor().execute(() -> {
            try {
                Message response = handler.handle(this, request);
                requireSendable(response);
                write(Frame.message(alloc(), Frame.Kind.RESPONSE, id, response));
            } catch (Exception | LinkageError | AssertionError e) {
                write(Frame.text(alloc(), Frame.Kind.FAILURE, id, failureText(e)));
            }
        });
    }

    private void receiveStream(long id, Message header) {
        StreamHandler handler = handlers.stream(header.type());
        if (handler == null) {
            write(Frame.text(alloc(), Frame.Kind.FAILURE, id, localName + " has no handler for streams of type '"
                    + header.type() + "'"));
            return;
        }
        InboundStream stream = new InboundStream(this, id, header.type(), limits.streamWindowBytes());
        inbound.put(id, stream);
        write(Frame.credit(alloc(), id, limits.streamWindowBytes()));
        handlers.executor().execute(() -> {
            try {
                Message reply = handler.receive(this, header, stream);
                requireSendable(reply);
                write(Frame.message(alloc(), Frame.Kind.RESPONSE, id, reply));
            } catch (Exception | LinkageError | AssertionError e) {
                write(Frame.text(alloc(), Frame.Kind.FAILURE, id, failureText(e)));
            } finally {
                inbound.remove(id);
                stream.close();
            }
        });
    }

    private void complete(long id, Message response) {
        CompletableFuture<Message> future = pending.remove(id);
        if (future != null) {
            future.complete(response);
        }
    }

    private void failRequest(long id, String text) {
        CompletableFuture<Message> future = pending.remove(id);
        if (future != null) {
            future.completeExceptionally(new PeerException(PeerException.Reason.REMOTE, text));
        }
    }

    private String failureText(Throwable e) {
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        return localName + ": " + message;
    }
}
