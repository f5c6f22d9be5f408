package io.pmig.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.log.LogRate;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.control.ControlHandler;
import io.pmig.daemon.control.ControlServer;
import io.pmig.daemon.control.MigrationPolicy;
import io.pmig.daemon.net.EventLoops;
import io.pmig.daemon.peer.PeerClient;
import io.pmig.daemon.peer.PeerHandlers;
import io.pmig.daemon.peer.PeerServer;
import io.pmig.daemon.peer.PeerTls;
import io.pmig.vip.dns.ServiceDns;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One running pmigd: its event loops, its handler threads, the peer server and client, the control
 * socket and the registry of running migrations. {@link #start} brings them up in that order (and
 * takes them down again if a step fails), {@link #close} in reverse. This is the object the
 * migration is built on: register peer handlers on {@link #peerHandlers()}, connect with
 * {@link #peerClient()}, add control ops with {@link #onControl}.
 */
public final class Daemon implements AutoCloseable {
    private final DaemonConfig config;
    private final EventLoops loops;
    private final ExecutorService handlerThreads;
    private final PeerHandlers peerHandlers;
    private final PeerClient peerClient;
    private final PeerServer peerServer;
    private final ControlServer control;
    private final Migrations migrations;
    private final MigrationPolicy policy = new MigrationPolicy();
    private final Optional<ServiceDns> serviceDns;
    private final LogRate refusalLog = new LogRate(10, Duration.ofMinutes(1));
    private HostPort listening;
    private NodeStatus status;
    private boolean closed;

    private Daemon(DaemonConfig config, PeerTls tls) {
        this.config = config;
        this.loops = EventLoops.start(Math.max(2, Runtime.getRuntime().availableProcessors()));
        this.handlerThreads = Executors.newFixedThreadPool(config.limits().handlerThreads(), threads("pmigd-handler"));
        this.peerHandlers = new PeerHandlers(handlerThreads);
        this.peerClient = new PeerClient(config, tls, loops, peerHandlers);
        this.peerServer = new PeerServer(config, tls, loops, peerHandlers, this::logPeerEvent);
        this.control = new ControlServer(config.controlSocket(), config.controlSocketMode(), loops, handlerThreads);
        this.migrations = new Migrations(config.limits().maxMigrations());
        this.serviceDns = config.dns().map(ServiceDns::new);
    }

    /** One line per peer event; refusals, which anybody who reaches the port can cause, at most 10 a minute. */
    private void logPeerEvent(PeerServer.PeerEvent event) {
        String peer = event.peer() == null ? "-" : event.peer();
        if (!event.kind().equals("refused")) {
            DaemonLog.info("peer-" + event.kind(), "peer", peer, "remote", event.remote(), "detail", event.detail());
            return;
        }
        long leftOut = refusalLog.admit();
        if (leftOut >= 0) {
            DaemonLog.warn("peer-refused", "peer", peer, "remote", event.remote(), "detail", event.detail(),
                    "unlogged", leftOut + " refusals since the last one logged");
        }
    }

    /** Loads the certificates, binds the peer port and the control socket; fails naming what could not be done. */
    public static Daemon start(DaemonConfig config) {
        Daemon daemon = new Daemon(config, PeerTls.of(config));
        try {
            InetSocketAddress bound = daemon.peerServer.start();
            daemon.listening = new HostPort(config.listen().host(), bound.getPort());
            daemon.status = new NodeStatus(config, daemon.listening, daemon.peerClient, daemon.migrations, daemon.serviceDns);
            daemon.control.on(NodeStatus.OP, daemon.status);
            daemon.control.on(MayMigrate.OP, new MayMigrate(daemon.policy));
            daemon.control.start();
        } catch (RuntimeException e) {
            daemon.close();
            throw e;
        }
        DaemonLog.info("started", "node", config.nodeName(), "listen", daemon.listening, "transport",
                config.plaintext() ? "plaintext" : "tls", "io", daemon.loops.epoll() ? "epoll" : "nio",
                "control", config.controlSocket(), "peers", String.join(",", config.peers().keySet()), "config", config.source());
        if (config.plaintext()) {
            DaemonLog.warn("plaintext", "detail", "peers are neither authenticated nor encrypted (plaintext = true in "
                    + config.source() + ")");
        }
        return daemon;
    }

    public DaemonConfig config() {
        return config;
    }

    /** The address the peer server listens on, with the real port. */
    public HostPort listening() {
        return listening;
    }

    /** Where to register the handlers of peer requests and streams. */
    public PeerHandlers peerHandlers() {
        return peerHandlers;
    }

    /** Opens sessions to configured peers. */
    public PeerClient peerClient() {
        return peerClient;
    }

    /** The sessions peers opened to this node. */
    public PeerServer peerServer() {
        return peerServer;
    }

    /** Adds (or replaces) an op of the control socket. */
    public Daemon onControl(String op, ControlHandler handler) {
        control.on(op, handler);
        return this;
    }

    /** Adds (or replaces) a section of {@code pmig status}: key {@code name}, what {@code section} says at each call. */
    public Daemon onStatus(String name, Supplier<? extends JsonNode> section) {
        status.section(name, section);
        return this;
    }

    /**
     * Services' names in DNS, when pmigd.conf has {@code dns.server}: {@code register(fqdn, vips)} when a service with
     * a name is added or started, {@code remove(fqdn)} when it is removed (both verified by a query; a
     * {@code DnsException} names the server, zone, key and remedy, and the caller leaves the service as it is).
     */
    public Optional<ServiceDns> serviceDns() {
        return serviceDns;
    }

    public Migrations migrations() {
        return migrations;
    }

    /** Who may migrate what: root or the owner (check it with the caller of a control request). */
    public MigrationPolicy policy() {
        return policy;
    }

    /** Stops accepting, closes every session, stops the handler threads and the event loops. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        control.close();
        peerServer.close();
        peerClient.close();
        handlerThreads.shutdown();
        try {
            if (!handlerThreads.awaitTermination(2, TimeUnit.SECONDS)) {
                handlerThreads.shutdownNow();
            }
        } catch (InterruptedException e) {
            handlerThreads.shutdownNow();
            Thread.currentThread().interrupt();
        }
        loops.close();
        DaemonLog.info("stopped", "node", config.nodeName());
    }

    private static ThreadFactory threads(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, prefix + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
