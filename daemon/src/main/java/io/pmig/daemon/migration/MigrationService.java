package io.pmig.daemon.migration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.CheckedProcess;
import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.tree.ProcessTree;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.precopy.WriteForecast;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.StepTimes;
import io.pmig.checkpoint.image.PageCompression;
import io.pmig.checkpoint.tree.PidNamespaces;
import io.pmig.checkpoint.dirty.UntrackableException;
import io.pmig.daemon.Daemon;
import io.pmig.daemon.Migrations;
import io.pmig.daemon.config.Bandwidth;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.FaultPause;
import io.pmig.daemon.control.Caller;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.peer.InboundStream;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.PeerException;
import io.pmig.daemon.peer.ClockSkew;
import io.pmig.daemon.peer.PeerSession;
import io.pmig.daemon.service.Service;
import io.pmig.daemon.service.ServiceRegistry;
import io.pmig.vip.DestinationSwitch;
import io.pmig.vip.SourceSwitch;
import io.pmig.vip.VipManager;
import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.neighbour.ArpFrame;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Live migration on a daemon: the control op {@value #OP} (this node as source) and the peer
 * messages of {@link MigrationProtocol} (this node as destination, and the source's side of the
 * VIP switch). Bundle mode: the whole image in one stream while the process is frozen.
 */
public final class MigrationService implements AutoCloseable {
    public static final String OP = "migrate";
    public static final String CANCEL_OP = "cancel";
    /** How long a cancel waits for the rollback before it answers. */
    private static final Duration CANCEL_WAIT = Duration.ofSeconds(60);
    private static final long ANNOUNCE_POLL_MILLIS = 5;

    private final DaemonConfig config;
    private final NodeVips vips;
    private final Map<String, SourceSwitch> outgoing = new ConcurrentHashMap<>();
    private final Map<String, Cancellation> cancellations = new ConcurrentHashMap<>();
    private final Map<String, IncomingMigration> incoming = new ConcurrentHashMap<>();
    /** The page links of post-copies, both ways. */
    private final PostcopyLinks postcopyLinks = new PostcopyLinks();
    private final MigrationJournal journal;
    private final CommitOutcomes outcomes;
    /** How migrations that arrived here ended, for a source that asks later ({@link MigrationProtocol#OUTCOME}). */
    private final Map<String, CommitOutcome> ended = Collections.synchronizedMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CommitOutcome> eldest) {
            return size() > REMEMBERED_OUTCOMES;
        }
    });
    /** Journaled migrations this node sent the commit of, whose outcome a previous daemon never learned. */
    private final List<MigrationJournal.Entry> undecidedAtStart = new ArrayList<>();
    private final DestinationMemory memory;
    /** The services of this node: a migrated process's entry moves with it. */
    private final ServiceRegistry services;
    /** Started once the daemon answers. */
    private EngineWarmUp warmUp;
    private Daemon daemon;

    private static final int REMEMBERED_OUTCOMES = 1024;

    private MigrationService(DaemonConfig config, ServiceRegistry services) {
        this.config = config;
        this.services = services;
        this.vips = new NodeVips(config.vipInterface(), config.vip());
        this.journal = new MigrationJournal(config.stateDirectory().resolve("migrations"));
        this.outcomes = new CommitOutcomes(Duration.ofMillis(config.limits().connectTimeoutMillis()), journal, vips, services);
        this.memory = new DestinationMemory(Path.of("/"), config.limits().memoryReserveBytes());
    }

    /** Before the daemon takes requests: puts straight what a previous daemon left in the middle of a migration. */
    public static MigrationService prepare(DaemonConfig config, ServiceRegistry services) {
        MigrationService service = new MigrationService(config, services);
        service.recover();
        return service;
    }

    /** Registers the migration's control op and peer handlers on {@code daemon}. */
    public MigrationService install(Daemon daemon) {
        this.daemon = daemon;
        outcomes.start(daemon.peerClient(), daemon.migrations());
        for (MigrationJournal.Entry e : undecidedAtStart) {
            outcomes.adopt(e);
            try {
                daemon.migrations().begin(new Migrations.Migration(e.id(), e.pid(), "source", e.peer(), "awaiting-outcome",
                    Instant.now()));
            } catch (ControlRefusedException beyondTheLimit) {
                // more undecided migrations than limits.migrations: each is settled all the same, pmig status shows fewer
                DaemonLog.warn("migration-unlisted", "id", e.id(), "detail", beyondTheLimit.getMessage());
            }
        }
        daemon.onControl(OP, this::migrate);
        daemon.onControl(CANCEL_OP, this::cancel);
        daemon.peerHandlers()
            .onRequest(MigrationProtocol.PREPARE, (peer, m) -> prepare(peer, m.bodyAs(MigrationProtocol.Prepare.class)))
            .onStream(MigrationProtocol.IMAGE, this::receiveImage)
            .onRequest(MigrationProtocol.SWITCH, (peer, m) -> giveVipAway(m.bodyAs(MigrationProtocol.Id.class).id()))
            .onRequest(MigrationProtocol.CAUGHT_UP, (peer, m) -> caughtUp(m.bodyAs(MigrationProtocol.Rounds.class)))
            .onRequest(MigrationProtocol.COMMIT, (peer, m) -> commit(peer, m.bodyAs(MigrationProtocol.Id.class).id()))
            .onRequest(MigrationProtocol.LATE, (peer, m) -> late(HeldPacketCodec.decodeBatch(m.body())))
            .onRequest(MigrationProtocol.ABORT, (peer, m) -> abort(m.bodyAs(MigrationProtocol.Id.class).id()))
            .onRequest(MigrationProtocol.FORWARD, (peer, m) -> forwardBack(m.bodyAs(MigrationProtocol.Forward.class)))
            .onRequest(MigrationProtocol.OUTCOME, (peer, m) -> outcome(m.bodyAs(MigrationProtocol.Id.class).id()))
            .onStream(MigrationProtocol.PAGES, postcopyLinks::receivePages)
            .onStream(MigrationProtocol.PAGE_REQUESTS, postcopyLinks::serveRequests);
        warmUp = EngineWarmUp.start(config.warmUpMoves(), this::warmUpVips);
        daemon.onStatus("warmUp", warmUp::status);
        return this;
    }

    /**
     * A daemon died in the middle of these migrations. A destination's copy not yet resumed died
     * with it (PTRACE_O_EXITKILL); one that was told to run runs if its pid lives. A source's
     * original was left stopped, its connections in repair mode: it goes on if the destination
     * was not told to run the copy; if it was, the destination is asked once this daemon has its
     * peers ({@link CommitOutcomes}). And the VIP is put where the service is.
     */
    private void recover() {
        for (MigrationJournal.Entry e : journal.unfinished()) {
            try {
                recover(e);
            } catch (RuntimeException ex) {
                DaemonLog.warn("migration-recovery-failed", "id", e.id(), "pid", e.pid(), "detail", ex.getMessage()
                    + "; kept in " + config.stateDirectory().resolve("migrations") + " for the next start");
            }
        }
    }

    private void recover(MigrationJournal.Entry e) {
        if (e.role().equals("source")) {
            if (e.phase().equals("prepared")) {
                outcomes.settle(e, CommitOutcome.ABORTED);
            } else {
                undecidedAtStart.add(e);
            }
            return;
        }
        boolean alive = Files.isDirectory(Path.of("/proc", Integer.toString(e.pid())));
        boolean copyRuns = e.phase().equals("committed") && alive;
        if (e.phase().equals("postcopy") && alive) {
            // it ran with pages still at the source, which nothing serves any more: its faults wait forever (it held its
            // own reference to the userfaultfd, so they never read as zeros). It ran, so the original must not run again
            ProcessHandle.of(e.pid()).ifPresent(ProcessHandle::destroyForcibly);
        }
        if (e.vip() != null) {
            vips.get().recover(address(e.vip()), e.prefix(), copyRuns);
        }
        if (e.service() != null && services.get(e.service()).filter(s -> !s.matchesItsProcess()).isPresent()) {
            // written with "committed" under the copy's own pid (in a PID namespace, not the journal's), and no copy runs:
            // the entry stays at the source
            services.remove(e.service());
        }
        journal.remove(e.id());
        ended.put(e.id(), copyRuns || e.phase().equals("postcopy") ? CommitOutcome.COMMITTED : CommitOutcome.ABORTED);
        DaemonLog.warn("migration-recovered", "id", e.id(), "role", e.role(), "phase", e.phase(), "pid", e.pid(),
            "vip", e.vip() == null ? "-" : e.vip(), "copyRuns", copyRuns);
    }

    /** The VIP manager's one-time costs (hold rules, capture, sockets) if the interface exists, before the engine's. */
    private void warmUpVips() {
        try {
            vips.get();
        } catch (RuntimeException e) {
            DaemonLog.warn("vip-manager-unavailable", "interface", config.vipInterface(), "detail", e.getMessage());
        }
    }

    /** The daemon has work: the engine's warm-up gives way to it (its first move done, no other started). */
    public void giveWay() {
        warmUp.giveWay();
    }

    // ---- source ----

    /**
     * {"op": "migrate", "pid": N or "service": NAME, "to": NODE, "vip": IP (optional), "replay": true, "mode": "staged" or
     * "bundle", "maxRounds", "stopBelowPages", "bandwidthMegabytesPerSecond" (optional, else the configuration's),
     * "compress": "auto" (default), "on" or "off", "filter": "on" or "off" (default: PrecopyOptions.DEFAULT_FILTER),
     * "postcopy": "never" (default), "auto" or "always" (PostcopyMode)}.
     */
    public ObjectNode migrate(ControlCall call) {
        Audit audit = new Audit();
        String outcome = "refused";
        String detail = "-";
        try {
            ObjectNode report = migrate(call, audit);
            outcome = "migrated";
            detail = "downtime " + report.path("downtimeMillis").asDouble() + " ms";
            return report;
        } catch (CommitUndecidedException e) {
            outcome = "awaiting-outcome";
            detail = e.getMessage();
            throw e;
        } catch (ControlRefusedException e) {
            detail = e.getMessage();
            throw e;
        } catch (RuntimeException | Error e) {
            outcome = audit.cancelled != null && audit.cancelled.reason() != null ? "cancelled" : "failed";
            detail = e.getMessage();
            throw e;
        } finally {
            Caller caller = call.caller();
            DaemonLog.info("migration", "id", audit.id, "uid", caller.uid(), "callerPid", caller.pid(), "pid",
                call.request().path(call.request().has("service") ? "service" : "pid").asText("-"), "to", call.request().path("to").asText("-"), "vip", audit.vip,
                "outcome", outcome, "detail", detail);
        }
    }

    /** What a migration's audit line names, learnt as pre-flight goes. */
    private static final class Audit {
        String id = "-";
        String vip = "-";
        Cancellation cancelled;
    }

    private ObjectNode migrate(ControlCall call, Audit audit) {
        warmUp.giveWay();
        JsonNode r = call.request();
        String node = config.nodeName();
        Optional<Service> service = r.path("service").isTextual() ? Optional.of(services.get(r.path("service").asText())
            .orElseThrow(() -> new ControlRefusedException("no service " + r.path("service").asText() + " runs on " + node
                + " (pmig service list shows where each runs)"))) : Optional.empty();
        if (service.isEmpty() && (!r.path("pid").canConvertToInt() || r.path("pid").asInt() <= 0) || !r.path("to").isTextual()) {
            throw new ControlRefusedException("migrate needs a numeric \"pid\" or a \"service\" name, and a node name \"to\"");
        }
        int pid = service.isPresent() ? service.get().process() : r.path("pid").asInt();
        String to = r.path("to").asText();
        if (!isProcess(pid)) {
            throw new ControlRefusedException("process " + pid + " does not exist on " + node);
        }
        if (service.isEmpty()) {
            service = services.byPid(pid);
        }
        daemon.policy().requireMayMigrate(call.caller(), pid);
        if (to.equals(node)) {
            throw new ControlRefusedException("process " + pid + " is on " + node + " already; name another node with --to");
        }
        if (!config.peers().containsKey(to)) {
            throw new ControlRefusedException(to + " is not a peer of " + node + " (peers: "
                + String.join(", ", config.peers().keySet()) + "); add peer." + to + " to " + config.source());
        }
        PeerSession peer;
        try {
            peer = daemon.peerClient().session(to);
        } catch (PeerException e) {
            throw new ControlRefusedException("cannot reach " + to + ": " + e.getMessage() + " (pmig status shows every peer)");
        }
        requireClocksAgree(peer, node, to);
        VipManager manager = vips.get();
        Optional<String> namedVip = r.path("vip").isTextual() ? Optional.of(r.path("vip").asText())
            : service.flatMap(MigrationService::registeredVip);
        Optional<ServiceVip> vip = namedVip.isPresent() ? Optional.of(ServiceVip.named(manager, address(namedVip.get())))
            : ServiceVip.of(pid, manager.interfaceAddresses());
        vip.ifPresent(v -> {
            audit.vip = v.address().getHostAddress();
            v.requireNoNodesAddress(node, manager, config);
            if (!call.caller().root()) {
                v.requireUsedBy(pid, node);
            }
            v.requireUsedAloneBy(ProcessTree.hostPidsOf(pid), node);
        });
        Optional<InetAddress> sourcePin = ServiceVip.requirePinOn(vip, pid, node);
        try {
            ServiceVip.requireConnectionsOn(vip, new CheckpointEngine().tcpConnections(pid), node);
        } catch (RefusedException e) {
            throw new ControlRefusedException(e.getMessage());
        }
        String mode = r.path("mode").asText("staged");
        if (!mode.equals("staged") && !mode.equals("bundle")) {
            throw new ControlRefusedException("mode '" + mode + "' is neither staged nor bundle");
        }
        PrecopyOptions precopyOptions;
        Bandwidth bandwidth;
        PageCompression.Mode compressMode;
        PostcopyMode postcopyMode;
        try {
            postcopyMode = PostcopyMode.parse(r.path("postcopy").asText(PostcopyMode.DEFAULT.text()));
            if (postcopyMode != PostcopyMode.NEVER && mode.equals("bundle")) {
                throw new IllegalArgumentException("post-copy follows the rounds of a staged migration; --mode bundle has none"
                    + " (migrate staged, or without --postcopy)");
            }
            precopyOptions = new PrecopyOptions(
                r.path("stopBelowPages").canConvertToLong() ? r.path("stopBelowPages").asLong() : config.precopy().stopBelowPages(),
                r.path("maxRounds").canConvertToInt() ? r.path("maxRounds").asInt() : config.precopy().maxRounds(),
                onOff("filter", r.path("filter").asText(config.precopy().filter() != WriteForecast.Model.OFF ? "on" : "off"))
                    ? WriteForecast.Model.RECENT_WRITES : WriteForecast.Model.OFF);
            bandwidth = r.path("bandwidthMegabytesPerSecond").isNumber()
                ? Bandwidth.megabytesPerSecond(r.path("bandwidthMegabytesPerSecond").asDouble()) : config.migrationBandwidth();
            compressMode = PageCompression.Mode.parse(r.path("compress").asText("auto"));
        } catch (IllegalArgumentException e) {
            throw new ControlRefusedException(e.getMessage());
        }
        String compressNote = null;
        String unavailable = PageCompression.unavailable();
        if (compressMode != PageCompression.Mode.OFF && unavailable != null) {
            if (compressMode == PageCompression.Mode.ON) {
                throw new ControlRefusedException(node + " cannot compress pages: " + unavailable + "; migrate with --compress off");
            }
            compressMode = PageCompression.Mode.OFF;
            compressNote = "pages sent uncompressed: " + unavailable;
        }
        PageCompression compression = new PageCompression(compressMode, bandwidth.bytesPerSecond());
        String id = node + "-" + pid + "-" + Long.toString(System.currentTimeMillis(), 36);
        audit.id = id;
        Migrations.Migration record = new Migrations.Migration(id, pid, "source", to, "preflight", Instant.now());
        daemon.migrations().begin(record);
        Cancellation cancellation = new Cancellation(call.caller().uid());
        audit.cancelled = cancellation;
        cancellations.put(id, cancellation);
        call.disconnected().thenRun(() -> cancellation.cancel("its caller went away (pmig migrate ended, e.g. by Ctrl-C)"));
        SourceSwitch vipSwitch = null;
        PrecopySource precopy = null;
        String modeNote = null;
        boolean undecided = false;
        try {
            if (mode.equals("staged")) {
                // tracking starts before the destination prepares, which restores in advance only for a staged move
                try {
                    precopy = new CheckpointEngine().precopy(pid, precopyOptions);
                } catch (UntrackableException e) {
                    modeNote = "bundle mode, not staged: " + e.getMessage();
                } catch (RefusedException e) {
                    throw new ControlRefusedException(e.getMessage());
                }
            }
            CheckedProcess bundle = null;
            if (precopy == null) {
                // refused now, before the destination prepares or the VIP's packets are held
                try {
                    bundle = new CheckpointEngine().preflighted(pid);
                } catch (RefusedException e) {
                    throw new ControlRefusedException(e.getMessage());
                }
            }
            boolean staged = precopy != null;
            MigrationJournal.Entry entry = new MigrationJournal.Entry(id, "source", to, pid,
                vip.map(v -> v.address().getHostAddress()).orElse(null), vip.map(ServiceVip::prefix).orElse(0), "prepared",
                service.map(Service::name).orElse(null));
            try {
                journal.write(entry);
            } catch (UncheckedIOException e) {
                throw new ControlRefusedException(e.getMessage());
            }
            vipSwitch = vip.map(v -> manager.source(v.address(), v.prefix())).orElse(null);
            if (vipSwitch != null) {
                outgoing.put(id, vipSwitch);
            }
            MigrationProtocol.Prepare prepare = new MigrationProtocol.Prepare(id, pid, threadIds(pid), exe(pid),
                vip.map(v -> v.address().getHostAddress()).orElse(null), vip.map(ServiceVip::prefix).orElse(0),
                HexFormat.of().formatHex(manager.mac()), !r.path("replay").isBoolean() || r.path("replay").asBoolean(), staged,
                DestinationMemory.imageBytes(pid), PidNamespaces.inOwnNamespace(pid), service.orElse(null),
                sourcePin.map(InetAddress::getHostAddress).orElse(null),
                compressMode == PageCompression.Mode.OFF ? null : PageCompression.codecName());
            try {
                peer.request(Message.json(MigrationProtocol.PREPARE, prepare));
            } catch (PeerException e) {
                // a peer's failure text begins with its name ("node-b: ..."): said once
                String remote = e.getMessage().startsWith(to + ": ") ? e.getMessage().substring(to.length() + 2) : e.getMessage();
                throw new ControlRefusedException(e.reason() == PeerException.Reason.REMOTE ? to + " refused: " + remote
                    : "cannot prepare " + to + ": " + e.getMessage());
            }
            MigrationJournal.Entry committing = entry.at("committing");
            ObjectNode report;
            try {
                report = new OutgoingMigration(id, pid, peer, vip.orElse(null), vipSwitch, call, daemon.migrations(), record,
                    () -> journal.write(committing), precopy, bundle, bandwidth, compression, config.pause(), cancellation,
                    () -> outcomes.await(committing, Duration.ofMillis(config.limits().outcomeWaitMillis())),
                    Duration.ofMillis(config.limits().listenerDrainMillis()), postcopyMode, postcopyLinks).run();
            } catch (CommitUndecidedException e) {
                undecided = true;
                outcomes.adopt(committing);
                daemon.migrations().update(record.withPhase("awaiting-outcome"));
                throw e;
            }
            report.put("from", node);
            service.ifPresent(s -> {
                services.remove(s.name());     // it runs there now, and its entry with it
                report.put("service", s.name());
            });
            if (modeNote != null) {
                report.withArrayProperty("notes").add(modeNote);
            }
            if (compressNote != null) {
                report.withArrayProperty("notes").add(compressNote);
            }
            return report;
        } finally {
            cancellations.remove(id);
            postcopyLinks.forgetServing(id);
            if (precopy != null) {
                precopy.close();
            }
            outgoing.remove(id);
            if (vipSwitch != null) {
                vipSwitch.close();
            }
            if (!undecided) {
                journal.remove(id);
                daemon.migrations().end(id);
            }
            cancellation.ended();
        }
    }

    /**
     * {"op": "cancel", "id": ID}: cancels a migration leaving this node before its commit; answers
     * once its rollback is done. Root, or the user who started it, may.
     */
    private ObjectNode cancel(ControlCall call) {
        String id = call.request().path("id").asText("");
        Cancellation c = cancellations.get(id);
        if (c == null) {
            throw new ControlRefusedException("no migration " + id + " leaves " + config.nodeName() + " now (pmig status lists those"
                + " that run)");
        }
        int uid = call.caller().uid();
        if (!call.caller().root() && uid != c.callerUid()) {
            throw new ControlRefusedException("uid " + uid + " may not cancel migration " + id + ", which uid " + c.callerUid()
                + " started: only root or that user may");
        }
        if (!c.cancel("cancelled by uid " + uid + " (pmig migrate --cancel)")) {
            throw new ControlRefusedException("migration " + id + " is committing: it completes, and cannot be cancelled any more");
        }
        boolean ended;
        try {
            ended = c.awaitEnd(CANCEL_WAIT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ended = false;
        }
        ObjectNode result = JsonNodeFactory.instance.objectNode().put("id", id).put("cancelled", true).put("rolledBack", ended);
        result.put("message", ended ? "migration " + id + " was cancelled and rolled back: the process runs on at " + config.nodeName()
            : "migration " + id + " was cancelled; its rollback takes longer than " + CANCEL_WAIT.toSeconds() + " s (pmig status shows it)");
        return result;
    }

    /** The VIP a registered service is moved with: its one VIP, or none; a migration moves one VIP so far. */
    private static Optional<String> registeredVip(Service s) {
        if (s.vips().size() > 1) {
            throw new ControlRefusedException("service " + s.name() + " has " + s.vips().size() + " VIPs " + s.vips()
                + ", and a migration moves one VIP so far; remove the service and add it again with the one it serves on");
        }
        return s.vips().stream().findFirst().map(v -> v.substring(0, v.indexOf('/')));
    }

    /** What this node can give a migration's memory now (the least of MemAvailable and its memory cgroups' headroom). */
    public long freeMemoryBytes() {
        return memory.offer().bytes();
    }

    /** What moving process {@code pid} allocates on its destination. */
    public static long memoryOf(int pid) {
        return DestinationMemory.imageBytes(pid);
    }

    /** Whether {@code pid} names a process here: /proc also answers for the id of a thread that is not its process's first. */
    /** "on" true, "off" false; anything else refuses the request, naming {@code option}. */
    private static boolean onOff(String option, String value) {
        return switch (value) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException(option + " '" + value + "' is neither on nor off");
        };
    }

    private static boolean isProcess(int pid) {
        try {
            return Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status")).contains("Tgid:\t" + pid);
        } catch (IOException gone) {
            return false;
        }
    }

    /** The destination's restore hook asks: the VIP goes, and with it what was held here. */
    private Message giveVipAway(String id) {
        SourceSwitch s = outgoing.get(id);
        if (s == null) {
            throw new IllegalStateException("no migration " + id + " leaves this node");
        }
        s.releaseVip();
        return new Message("migrate.held", HeldPacketCodec.encode(s.forward()));
    }

    // ---- destination ----

    /** A process's timers and timestamps would jump by the difference: the nodes' realtime clocks must agree. */
    private void requireClocksAgree(PeerSession peer, String node, String to) {
        ClockSkew clocks = peer.clockSkew();
        int bound = config.limits().clockSkewMillis();
        if (clocks.exceeds(Duration.ofMillis(bound))) {
            throw new ControlRefusedException("the clocks of " + node + " and " + to + " disagree: " + clocks.describe(node, to)
                + " (measured when they connected), more than limits.clock.skew.millis (" + bound + " ms) allows; a moved"
                + " process's timers and timestamps would jump. Synchronise both nodes' clocks with NTP (chrony or"
                + " systemd-timesyncd) and migrate again");
        }
    }

    private Message prepare(PeerSession source, MigrationProtocol.Prepare p) {
        warmUp.giveWay();
        String node = config.nodeName();
        daemon.migrations().begin(new Migrations.Migration(p.id(), p.pid(), "destination", source.peerName(), "prepared", Instant.now()));
        DestinationSwitch vipSwitch = null;
        try {
            if (!Files.isRegularFile(Path.of(p.exe()))) {
                throw new ControlRefusedException("executable " + p.exe() + " does not exist on " + node
                    + "; nodes share their files (install it there at the same path)");
            }
            if (p.vip() != null) {
                new ServiceVip(address(p.vip()), p.prefix()).requireNoNodesAddress(node, vips.get(), config);
            }
            if (p.sourcePin() != null) {
                ServiceVip.requirePinnable(p.sourcePin(), p.vip(), node);
            }
            if (p.pageCodec() != null && PageCompression.unavailable() != null) {
                throw new ControlRefusedException(node + " cannot decompress the pages " + source.peerName() + " would compress with "
                    + p.pageCodec() + ": " + PageCompression.unavailable() + "; migrate with --compress off");
            }
            memory.require(node, p.pid(), p.memoryBytes());
            if (p.service() != null && services.get(p.service().name()).isPresent()) {
                throw new ControlRefusedException(node + " has a service named " + p.service().name() + " already (process "
                    + services.get(p.service().name()).get().pid() + " there): remove one of them, or rename it");
            }
            journal.write(new MigrationJournal.Entry(p.id(), "destination", source.peerName(), p.pid(), p.vip(), p.prefix(),
                "prepared", p.service() == null ? null : p.service().name()));
            if (p.vip() != null) {
                VipManager manager = vips.get();
                vipSwitch = manager.destination(address(p.vip()), p.prefix(), HexFormat.of().parseHex(p.sourceMac()));
                vipSwitch.hold();
                vipSwitch.takeVip();
            }
            // not on the event loop that closed the session, nor on the restore thread: discarding the copy waits for the latter
            Executor handlers = daemon.peerHandlers().executor();
            IncomingMigration migration = new IncomingMigration(p, node, vipSwitch, config.pause(),
                () -> handlers.execute(() -> abandon(p.id(), "the source decided nothing in time")), postcopyLinks);
            incoming.put(p.id(), migration);
            source.closed().thenRunAsync(() -> abandon(p.id(), "the source's session closed"), handlers);
            return Message.json("migrate.prepared", new MigrationProtocol.Prepared(p.id(),
                vipSwitch == null ? null : ArpFrame.mac(vips.get().mac())));
        } catch (RuntimeException e) {
            if (vipSwitch != null) {
                vipSwitch.rollback();
                vipSwitch.close();
            }
            journal.remove(p.id());
            daemon.migrations().end(p.id());
            DaemonLog.info("migration-arrival", "id", p.id(), "from", source.peerName(), "pid", p.pid(), "vip",
                p.vip() == null ? "-" : p.vip(), "outcome", "refused", "detail", e.getMessage());
            throw e;
        }
    }

    private Message receiveImage(PeerSession source, Message header, InboundStream image) throws Exception {
        IncomingMigration m = incoming(header.bodyAs(MigrationProtocol.Id.class).id());
        daemon.migrations().update(new Migrations.Migration(m.id(), m.prepare.pid(), "destination", source.peerName(), "restore",
            Instant.now()));
        return Message.json("migrate.restored", m.restore(source, image));
    }

    private Message caughtUp(MigrationProtocol.Rounds rounds) throws Exception {
        incoming(rounds.id()).awaitRounds(rounds.rounds(), TimeUnit.SECONDS.toMillis(IncomingMigration.DECISION_TIMEOUT_SECONDS));
        return new Message("migrate.caught-up", new byte[0]);
    }

    private Message commit(PeerSession source, String id) throws Exception {
        long start = System.nanoTime();
        IncomingMigration m = incoming(id);
        MigrationProtocol.Prepare p = m.prepare;
        // before the copy runs: a daemon that dies after the resume must find "committed" (and the copy's pid alive), and
        // the service's entry, which moves with it
        if (p.service() != null) {
            services.put(p.service().runBy(m.restoredPid()));
        }
        // the copy's pid as this host numbers it (it differs from the image's in a PID namespace of its own): a restarted
        // daemon looks for it in /proc
        // "postcopy" while pages are still at the source: a daemon that dies meanwhile leaves a copy that cannot go on
        MigrationJournal.Entry committed = new MigrationJournal.Entry(id, "destination", source.peerName(), m.restoredPid(), p.vip(),
            p.prefix(), "committed", p.service() == null ? null : p.service().name());
        if (m.postcopyRuns()) {
            journal.write(committed.at("postcopy"));
            m.whenPostcopyDone(() -> journal.write(committed));
        } else {
            journal.write(committed);
        }
        long journaled = System.nanoTime();
        MigrationProtocol.Restored running;
        try {
            running = m.commit();
        } catch (Exception e) {
            if (p.service() != null) {
                services.remove(p.service().name());     // no copy runs here: the entry stays at the source
            }
            throw e;
        }
        if (m.vip != null) {
            m.vip.copyRuns();
        }
        config.pause().pauseAt(FaultPause.Point.COMMIT_ANSWER);
        List<StepTimes.Step> steps = new ArrayList<>(List.of(new StepTimes.Step("journal", journaled - start)));
        steps.addAll(running.steps().steps());
        return Message.json("migrate.running", new MigrationProtocol.Restored(running.id(), running.pid(), running.restoreNanos(),
            running.replayed(), new StepTimes(steps), running.pidNamespace()));
    }

    /** Packets the source still got after the switch; answers whether every announcement is out. */
    private Message late(HeldPacketCodec.Batch batch) {
        IncomingMigration m = incoming(batch.id());
        boolean done = true;
        if (m.vip != null) {
            m.lateFromSource(batch.packets());
            done = m.vip.announceDue();
        }
        if (batch.last()) {
            finish(m);
        }
        ObjectNode answer = JsonNodeFactory.instance.objectNode().put("done", done);
        return Message.json("migrate.late", answer);
    }

    private Message abort(String id) {
        IncomingMigration m = incoming.get(id);
        if (m == null) {
            return new Message("migrate.held", HeldPacketCodec.encode(List.of()));
        }
        if (!m.abort()) {
            throw new IllegalStateException("migration " + id + " was committed: its copy runs on " + config.nodeName()
                + " and cannot be aborted");
        }
        List<HeldPacket> held = m.vip == null ? List.of() : m.vip.rollback();
        if (m.vip == null) {
            finish(m);
        }
        DaemonLog.info("migration-aborted", "id", id, "held", held.size());
        return new Message("migrate.held", HeldPacketCodec.encode(held));
    }

    /** During a rollback: what still reached this node for the VIP, for the source; {@code end} stops holding. */
    private Message forwardBack(MigrationProtocol.Forward f) {
        IncomingMigration m = incoming(f.id());
        List<HeldPacket> packets = f.end() ? m.vip.stopHolding() : m.vip.forward();
        if (f.end()) {
            finish(m);
        }
        return new Message("migrate.held", HeldPacketCodec.encode(packets));
    }

    /**
     * The source went away (its session ended, or it went silent) before the migration ended. Not
     * committed yet: the copy is discarded and the VIP given up (the source takes it back).
     * Committed: the copy runs, and this node finishes the VIP's move alone (the rest of the
     * announcements; what stale caches still send the source is left to retransmission).
     */
    private void abandon(String id, String why) {
        IncomingMigration m = incoming.get(id);
        if (m == null) {
            return;
        }
        synchronized (m) {
            boolean discarded = m.abort();
            DaemonLog.warn("migration-abandoned", "id", id, "detail", why + " before the migration ended; "
                + (discarded ? "the copy is discarded" : "the copy runs, the VIP stays"));
            if (m.vip != null) {
                if (discarded) {
                    m.vip.rollback();
                } else {
                    announceRest(m.vip);
                }
                m.vip.stopHolding();
            }
            finish(m);
        }
    }

    private static void announceRest(DestinationSwitch vip) {
        try {
            while (!vip.announceDue()) {
                Thread.sleep(ANNOUNCE_POLL_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Does the copy run here? Asked by a source that lost the commit's answer. */
    private Message outcome(String id) {
        IncomingMigration m = incoming.get(id);
        // a migration this node never heard of, or forgot with a restart that found its copy dead, has no copy here
        CommitOutcome outcome = m != null ? m.outcome() : ended.getOrDefault(id, CommitOutcome.ABORTED);
        return Message.json("migrate.outcome", new MigrationProtocol.Outcome(id, outcome));
    }

    private void finish(IncomingMigration m) {
        if (incoming.remove(m.id(), m)) {
            ended.put(m.id(), m.outcome());
            DaemonLog.info("migration-arrival", "id", m.id(), "pid", m.prepare.pid(), "vip",
                m.prepare.vip() == null ? "-" : m.prepare.vip(), "outcome", m.outcome().name().toLowerCase(Locale.ROOT));
            if (m.vip != null) {
                m.vip.close();
            }
            journal.remove(m.id());
            daemon.migrations().end(m.id());
        }
    }

    private IncomingMigration incoming(String id) {
        IncomingMigration m = incoming.get(id);
        if (m == null) {
            throw new IllegalStateException("no migration " + id + " arrives at " + config.nodeName());
        }
        return m;
    }

    private static List<Integer> threadIds(int pid) {
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Integer.toString(pid), "task"))) {
            return tasks.map(t -> Integer.parseInt(t.getFileName().toString())).sorted().toList();
        } catch (IOException e) {
            throw new ControlRefusedException("cannot list the threads of process " + pid + ": " + e.getMessage());
        }
    }

    private static String exe(int pid) {
        try {
            return Files.readSymbolicLink(Path.of("/proc", Integer.toString(pid), "exe")).toString();
        } catch (IOException e) {
            throw new ControlRefusedException("cannot read the executable of process " + pid + ": " + e.getMessage());
        }
    }

    static InetAddress address(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (IOException e) {
            throw new ControlRefusedException("'" + text + "' is not an IP address");
        }
    }

    @Override
    public void close() {
        if (warmUp != null) {
            warmUp.close();
        }
        outcomes.close();
        vips.close();
    }
}
