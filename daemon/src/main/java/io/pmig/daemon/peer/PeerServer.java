package io.pmig.daemon.peer;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.net.EventLoops;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Accepts connections from peer daemons on the configured listen address. A connection becomes a
 * {@link PeerSession} once TLS (unless plaintext) and the hellos show it is a configured peer;
 * others are refused with the reason. {@link #start()} binds, {@link #close()} closes the
 * listener and every session.
 */
public final class PeerServer implements AutoCloseable {
    private final DaemonConfig config;
    private final PeerTls tls;
    private final EventLoops loops;
    private final PeerHandlers handlers;
    private final Consumer<PeerEvent> events;
    private final List<PeerSession> sessions = new CopyOnWriteArrayList<>();
    private Channel listener;

    /** What the server reports: a session established, or a connection refused (with the reason), or closed. */
    public record PeerEvent(String kind, String peer, String remote, String detail) {
    }

    public PeerServer(DaemonConfig config, PeerTls tls, EventLoops loops, PeerHandlers handlers, Consumer<PeerEvent> events) {
        this.config = config;
        this.tls = tls;
        this.loops = loops;
        this.handlers = handlers;
        this.events = events;
    }

    /** Binds the listen address; returns the address bound (its real port when the configuration says 0). */
    public InetSocketAddress start() {
        Set<String> peers = config.peers().keySet();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(loops.group())
                .channel(loops.serverSocketChannel())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        PeerSession session = PeerPipeline.initialize(channel, false, config.nodeName(), null, peers, tls,
                                handlers, config.limits(), config.clock());
                        String remote = PeerSession.addressText(channel.remoteAddress());
                        session.ready().whenComplete((ready, error) -> {
                            if (error == null) {
                                sessions.add(session);
                                events.accept(new PeerEvent("accepted", session.peerName(), remote,
                                        session.encrypted() ? "tls" : "plaintext"));
                                session.closed().thenRun(() -> {
                                    sessions.remove(session);
                                    events.accept(new PeerEvent("closed", session.peerName(), remote, ""));
                                });
                            } else {
                                events.accept(new PeerEvent("refused", null, remote, error.getMessage()));
                            }
                        });
                    }
                });
        try {
            listener = bootstrap.bind(config.listen().socketAddress()).sync().channel();
        } catch (Exception e) {
            String why = e instanceof BindException || e.getCause() instanceof BindException ? e.getMessage() : e.toString();
            throw new PeerException(PeerException.Reason.UNREACHABLE, "cannot listen on " + config.listen() + " (key listen of "
                    + config.source() + "): " + why + ": is another pmigd running, or is the address not on this host?", e);
        }
        return (InetSocketAddress) listener.localAddress();
    }

    /** The sessions peers opened to this node that are established and open. */
    public List<PeerSession> sessions() {
        return List.copyOf(sessions);
    }

    @Override
    public void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
            listener = null;
        }
        sessions.forEach(PeerSession::close);
    }
}
