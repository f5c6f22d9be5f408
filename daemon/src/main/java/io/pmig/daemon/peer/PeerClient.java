package io.pmig.daemon.peer;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.concurrent.ScheduledFuture;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.net.EventLoops;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Opens sessions to configured peers. {@link #connect} returns a session once TCP, TLS (the peer's
 * certificate must be from the cluster CA and for the peer dialed) and the hellos are done, or
 * fails with a PeerException saying why: UNREACHABLE, BAD_CERTIFICATE, REFUSED, PROTOCOL, TIMEOUT.
 * {@link #close()} closes every session it opened that is still open.
 */
public final class PeerClient implements AutoCloseable {
    private final DaemonConfig config;
    private final PeerTls tls;
    private final EventLoops loops;
    private final PeerHandlers handlers;
    private final List<PeerSession> sessions = new CopyOnWriteArrayList<>();

    public PeerClient(DaemonConfig config, PeerTls tls, EventLoops loops, PeerHandlers handlers) {
        this.config = config;
        this.tls = tls;
        this.loops = loops;
        this.handlers = handlers;
    }

    /** A session with a configured peer, at the address the configuration gives. */
    public PeerSession connect(String peerName) {
        return connect(peerName, config.peer(peerName));
    }

    /** A session with {@code peerName} at {@code address}; the peer must prove it is {@code peerName}. */
    public PeerSession connect(String peerName, HostPort address) {
        try {
            return connectAsync(peerName, address).get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof PeerException p ? p : Failures.classify(e.getCause(), peerName + " at " + address, tls.ca());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PeerException(PeerException.Reason.CLOSED, "interrupted while connecting to " + peerName, e);
        }
    }

    /**
     * The open session this client has with {@code peerName}, or a new one: for a migration that
     * sends many requests and streams to one peer over one connection.
     */
    public synchronized PeerSession session(String peerName) {
        for (PeerSession session : sessions) {
            if (session.isOpen() && peerName.equals(session.peerName())) {
                return session;
            }
        }
        return connect(peerName);
    }

    /** {@link #connect(String)} without waiting: the future fails with a PeerException. */
    public CompletableFuture<PeerSession> connectAsync(String peerName) {
        return connectAsync(peerName, config.peer(peerName));
    }

    /**
     * {@link #connect(String, HostPort)} without waiting; the whole of it (TCP, TLS, hellos) is
     * bounded by limits.connect.timeout.millis.
     */
    public CompletableFuture<PeerSession> connectAsync(String peerName, HostPort address) {
        int timeoutMillis = config.limits().connectTimeoutMillis();
        String peer = peerName + " at " + address;
        CompletableFuture<PeerSession> ready = new CompletableFuture<>();
        Bootstrap bootstrap = new Bootstrap()
                .group(loops.group())
                .channel(loops.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, timeoutMillis)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        PeerSession session = PeerPipeline.initialize(channel, true, config.nodeName(), peerName,
                                Set.of(peerName), tls, handlers, config.limits(), config.clock());
                        session.ready().whenComplete((s, error) -> {
                            if (error == null) {
                                if (!ready.complete(s)) {
                                    channel.close(); // established after the timeout: nobody waits for it
                                }
                            } else {
                                ready.completeExceptionally(error);
                            }
                        });
                    }
                });
        ChannelFuture connecting = bootstrap.connect(address.socketAddress());
        connecting.addListener(f -> {
            if (!f.isSuccess()) {
                ready.completeExceptionally(Failures.classify(f.cause(), peer, tls.ca()));
            }
        });
        ScheduledFuture<?> timeout = loops.group().schedule(() -> {
            ready.completeExceptionally(new PeerException(PeerException.Reason.TIMEOUT, "connecting to " + peer
                    + " took longer than " + timeoutMillis + " ms (limits.connect.timeout.millis): is the address right, is"
                    + " traffic to it dropped?"));
        }, timeoutMillis, TimeUnit.MILLISECONDS);
        return ready.whenComplete((session, error) -> {
            timeout.cancel(false);
            if (error != null) {
                connecting.channel().close();
            } else {
                sessions.add(session);
                session.closed().thenRun(() -> sessions.remove(session));
            }
        });
    }

    /** The sessions this client opened that are still open. */
    public List<PeerSession> sessions() {
        return List.copyOf(sessions);
    }

    @Override
    public void close() {
        sessions.forEach(PeerSession::close);
    }
}
