package io.pmig.daemon.peer;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.net.EventLoops;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

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
        Duration timeout = Duration.ofMillis(config.limits().connectTimeoutMillis());
        CompletableFuture<PeerSession> ready = new CompletableFuture<>();
        Bootstrap bootstrap = new Bootstrap()
                .group(loops.group())
                .channel(loops.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, config.limits().connectTimeoutMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        PeerSession session = PeerPipeline.initialize(channel, true, config.nodeName(), peerName,
                                Set.of(peerName), tls, handlers, config.limits());
                        session.ready().whenComplete((s, error) -> {
                            if (error == null) {
                                ready.complete(s);
                            } else {
                                ready.completeExceptionally(error);
                            }
                        });
                    }
                });
        String peer = peerName + " at " + address;
        ChannelFuture connecting = bootstrap.connect(address.socketAddress());
        connecting.addListener(f -> {
            if (!f.isSuccess()) {
                ready.completeExceptionally(Failures.classify(f.cause(), peer, tls.ca()));
            }
        });
        try {
            PeerSession session = ready.get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            sessions.add(session);
            session.closed().thenRun(() -> sessions.remove(session));
            return session;
        } catch (java.util.concurrent.TimeoutException e) {
            connecting.channel().close();
            throw new PeerException(PeerException.Reason.TIMEOUT, "connecting to " + peer + " took longer than "
                    + timeout.toMillis() + " ms (limits.connect.timeout.millis)", e);
        } catch (java.util.concurrent.ExecutionException e) {
            connecting.channel().close();
            throw Failures.classify(e.getCause(), peer, tls.ca());
        } catch (InterruptedException e) {
            connecting.channel().close();
            Thread.currentThread().interrupt();
            throw new PeerException(PeerException.Reason.CLOSED, "interrupted while connecting to " + peer, e);
        }
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
