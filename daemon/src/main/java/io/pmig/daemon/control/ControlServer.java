package io.pmig.daemon.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.PeerCredentials;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.net.EventLoops;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The daemon's local control socket: a Unix socket (root-owned, mode 0600 by default) where
 * {@code pmig} sends one JSON line {"op": ..., ...} per connection and gets zero or more
 * {"progress": {...}} lines and then {"ok": true, "result": {...}} or {"ok": false, "error": ...,
 * "refused": bool}. The kernel's SO_PEERCRED tells each handler who the caller is.
 *
 * <p>With the socket opened to other users, none of them may starve the daemon of descriptors:
 * a user other than root holds at most {@value #CONNECTIONS_PER_USER} connections at once (one
 * beyond is answered with a refusal and closed), and a connection that has not sent its request
 * within {@link #REQUEST_WAIT} is closed.
 */
public final class ControlServer implements AutoCloseable {
    static final int MAX_REQUEST_BYTES = 1 << 20;
    /** A user's connections at once; root's are not counted (the daemon is root's). */
    public static final int CONNECTIONS_PER_USER = 16;
    /** How long a connection may stay without sending its request line. */
    public static final Duration REQUEST_WAIT = Duration.ofSeconds(5);

    private final Path socket;
    private final int mode;
    private final EventLoops loops;
    private final Executor executor;
    private final Map<String, ControlHandler> handlers = new ConcurrentHashMap<>();
    /** Open connections of each user but root. */
    private final Map<Integer, Integer> connections = new ConcurrentHashMap<>();
    private Channel listener;

    public ControlServer(Path socket, int mode, EventLoops loops, Executor executor) {
        this.socket = socket;
        this.mode = mode;
        this.loops = loops;
        this.executor = executor;
    }

    /** Registers the handler of one op, replacing any earlier one. */
    public ControlServer on(String op, ControlHandler handler) {
        handlers.put(op, handler);
        return this;
    }

    public Path socket() {
        return socket;
    }

    /**
     * Creates the socket's directory if needed, refuses when another daemon answers on the socket,
     * removes a stale socket file, binds and sets the socket's mode.
     */
    public void start() {
        if (!loops.epoll()) {
            throw new IllegalStateException("the control socket needs netty's epoll transport for SO_PEERCRED, which did"
                    + " not load: " + EventLoops.epollUnavailabilityCause());
        }
        try {
            Path parent = socket.toAbsolutePath().getParent();
            if (!Files.isDirectory(parent)) {
                Files.createDirectories(parent, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
            }
            if (Files.exists(socket)) {
                if (ControlClient.answers(socket)) {
                    throw new IllegalStateException("another pmigd already answers on " + socket + ": stop it first"
                            + " (systemctl stop pmigd), or give this one another control.socket");
                }
                Files.delete(socket); // left by a daemon that died
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare the control socket " + socket + ": " + e, e);
        }
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(loops.group())
                .channel(EpollServerDomainSocketChannel.class)
                .childHandler(new ChannelInitializer<EpollDomainSocketChannel>() {
                    @Override
                    protected void initChannel(EpollDomainSocketChannel channel) {
                        channel.pipeline().addLast(new LineBasedFrameDecoder(MAX_REQUEST_BYTES), new Connection());
                    }
                });
        try {
            listener = bootstrap.bind(new DomainSocketAddress(socket.toFile())).sync().channel();
            Files.setPosixFilePermissions(socket, permissions(mode));
        } catch (Exception e) {
            close();
            throw new IllegalStateException("cannot listen on the control socket " + socket + ": " + e, e);
        }
    }

    @Override
    public void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
            listener = null;
            try {
                Files.deleteIfExists(socket);
            } catch (IOException e) {
                DaemonLog.warn("control-socket-left", "socket", socket, "error", e);
            }
        }
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int bit = 0; bit < order.length; bit++) {
            if ((mode & (1 << bit)) != 0) {
                set.add(order[bit]);
            }
        }
        return set;
    }

    /** One client connection: one request, its progress lines and its answer, then close. */
    private final class Connection extends SimpleChannelInboundHandler<ByteBuf> {
        private final CompletableFuture<Void> disconnected = new CompletableFuture<>();
        private Caller caller;
        private boolean counted;
        private boolean answered;
        private ScheduledFuture<?> requestWait;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            try {
                PeerCredentials credentials = ((EpollDomainSocketChannel) ctx.channel()).peerCredentials();
                caller = new Caller(credentials.pid(), credentials.uid(), credentials.gids().length > 0 ? credentials.gids()[0] : -1);
            } catch (IOException e) {
                ctx.close();
                return;
            }
            if (!caller.root()) {
                int open = connections.merge(caller.uid(), 1, Integer::sum);
                counted = true;
                if (open > CONNECTIONS_PER_USER) {
                    if (open == CONNECTIONS_PER_USER + 1) {
                        DaemonLog.warn("control-connections-bounded", "uid", caller.uid(), "pid", caller.pid(), "detail",
                                "more than " + CONNECTIONS_PER_USER + " connections at once; further ones are refused");
                    }
                    answered = true;
                    finish(ctx, failure("uid " + caller.uid() + " has " + CONNECTIONS_PER_USER + " connections to pmigd open"
                            + " already, the most a user may: close some (each pmig command needs one)", true));
                    return;
                }
            }
            requestWait = ctx.executor().schedule(() -> {
                if (!answered) {
                    ctx.close();
                }
            }, REQUEST_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (counted) {
                connections.computeIfPresent(caller.uid(), (uid, open) -> open == 1 ? null : open - 1);
            }
            if (requestWait != null) {
                requestWait.cancel(false);
            }
            disconnected.complete(null);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf line) {
            if (answered) {
                return; // one request per connection
            }
            answered = true;
            requestWait.cancel(false);
            JsonNode request;
            try {
                request = JsonLine.read(line.toString(StandardCharsets.UTF_8));
            } catch (IOException e) {
                finish(ctx, failure("cannot read the request: " + e.getMessage(), false));
                return;
            }
            String op = request.path("op").asText("");
            ControlHandler handler = handlers.get(op);
            if (handler == null) {
                finish(ctx, failure("pmigd has no op '" + op + "'; it has " + String.join(", ", handlers.keySet().stream().sorted().toList())
                        + " (are pmig and pmigd the same version?)", false));
                return;
            }
            ControlCall call = new ControlCall(caller, request, update -> {
                ObjectNode progress = JsonLine.object();
                progress.set("progress", update);
                send(ctx, progress);
            }, disconnected);
            executor.execute(() -> {
                ObjectNode answer;
                try {
                    ObjectNode result = handler.handle(call);
                    answer = JsonLine.object();
                    answer.put("ok", true);
                    answer.set("result", result);
                } catch (ControlRefusedException e) {
                    DaemonLog.info("control-refused", "op", op, "uid", call.caller().uid(), "pid", call.caller().pid(), "reason",
                            e.getMessage());
                    answer = failure(e.getMessage(), true);
                } catch (Exception | LinkageError e) {
                    DaemonLog.warn("control-failed", "op", op, "uid", call.caller().uid(), "pid", call.caller().pid(), "error", e);
                    answer = failure(e.getMessage() == null ? e.toString() : e.getMessage(), false);
                }
                finish(ctx, answer);
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        private ObjectNode failure(String message, boolean refused) {
            ObjectNode answer = JsonLine.object();
            answer.put("ok", false);
            answer.put("error", message);
            answer.put("refused", refused);
            return answer;
        }

        private void send(ChannelHandlerContext ctx, ObjectNode json) {
            ctx.writeAndFlush(line(json));
        }

        private void finish(ChannelHandlerContext ctx, ObjectNode json) {
            ctx.writeAndFlush(line(json)).addListener(ChannelFutureListener.CLOSE);
        }

        private ByteBuf line(ObjectNode json) {
            return Unpooled.wrappedBuffer((JsonLine.write(json) + "\n").getBytes(StandardCharsets.UTF_8));
        }
    }
}
