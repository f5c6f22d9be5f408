package io.pmig.daemon.net;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * The netty event loops of one daemon (or one test, or one benchmark): every channel of the peer
 * server, the peer client and the control socket runs on them, and they are all the I/O threads
 * there are. Epoll when netty's native transport loads, NIO otherwise. Whoever creates it closes it.
 */
public final class EventLoops implements AutoCloseable {
    private final EventLoopGroup group;
    private final boolean epoll;

    private EventLoops(int threads, boolean epoll) {
        this.epoll = epoll;
        IoHandlerFactory factory = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("pmigd-io", true), factory);
    }

    /** {@code threads} event loops on epoll if it is available here, else on NIO. */
    public static EventLoops start(int threads) {
        return new EventLoops(threads, Epoll.isAvailable());
    }

    public EventLoopGroup group() {
        return group;
    }

    /** Whether the loops run on epoll (which the control socket needs for SO_PEERCRED). */
    public boolean epoll() {
        return epoll;
    }

    /** Why epoll is not available, for an error message. */
    public static Throwable epollUnavailabilityCause() {
        return Epoll.unavailabilityCause();
    }

    public Class<? extends SocketChannel> socketChannel() {
        return epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    public Class<? extends ServerChannel> serverSocketChannel() {
        return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    /** Stops the loops; channels still open are closed by it. */
    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
