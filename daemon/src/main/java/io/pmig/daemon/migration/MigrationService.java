package io.pmig.daemon.migration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.daemon.Daemon;
import io.pmig.daemon.Migrations;
import io.pmig.daemon.config.Bandwidth;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.peer.InboundStream;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.PeerException;
import io.pmig.daemon.peer.PeerSession;
import io.pmig.vip.DestinationSwitch;
import io.pmig.vip.SourceSwitch;
import io.pmig.vip.VipManager;
import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.neighbour.ArpFrame;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Live migration on a daemon: the control op {@value #OP} (this node as source) and the peer
 * messages of {@link MigrationProtocol} (this node as destination, and the source's side of the
 * VIP switch). Bundle mode: the whole image in one stream while the process is frozen.
 */
public final class MigrationService implements AutoCloseable {
    public static final String OP = "migrate";

    private final DaemonConfig config;
    private final NodeVips vips;
    private final Map<String, SourceSwitch> outgoing = new ConcurrentHashMap<>();
    private final Map<String, IncomingMigration> incoming = new ConcurrentHashMap<>();
    private final MigrationJournal journal;
    private Daemon daemon;

    private MigrationService(DaemonConfig config) {
        this.config = config;
        this.vips = new NodeVips(config.vipInterface(), config.vip());
        this.journal = new MigrationJournal(config.controlSocket().getParent().resolve("migrations"));
    }

    /**
     * Before the daemon takes requests: puts straight what a previous daemon left in the middle of
     * a migration, and pays the first migration's one-time costs.
     */
    public static MigrationService prepare(DaemonConfig config) {
        MigrationService service = new MigrationService(config);
        service.recover();
        service.warmUp();
        return service;
    }

    /** Registers the migration's control op and peer handlers on {@code daemon}. */
    public MigrationService install(Daemon daemon) {
        this.daemon = daemon;
        daemon.onControl(OP, this::migrate);
        daemon.peerHandlers()
            .onRequest(MigrationProtocol.PREPARE, (peer, m) -> prepare(peer, m.bodyAs(MigrationProtocol.Prepare.class)))
            .onStream(MigrationProtocol.IMAGE, this::receiveImage)
            .onRequest(MigrationProtocol.SWITCH, (peer, m) -> giveVipAway(m.bodyAs(MigrationProtocol.Id.class).id()))
            .onRequest(MigrationProtocol.COMMIT, (peer, m) -> commit(m.bodyAs(MigrationProtocol.Id.class).id()))
            .onRequest(MigrationProtocol.LATE, (peer, m) -> late(HeldPacketCodec.decodeBatch(m.body())))
            .onRequest(MigrationProtocol.ABORT, (peer, m) -> abort(m.bodyAs(MigrationProtocol.Id.class).id()))
            .onRequest(MigrationProtocol.FORWARD, (peer, m) -> forwardBack(m.bodyAs(MigrationProtocol.Forward.class)));
        return this;
    }

    /**
     * A daemon died in the middle of these migrations. A destination's copy not yet committed died
     * with it (PTRACE_O_EXITKILL); a source's original was left stopped, its connections in repair
     * mode: it goes on if the destination was not told to run the copy, else it is killed. And the
     * VIP is put where the service is.
     */
    private void recover() {
        for (MigrationJournal.Entry e : journal.unfinished()) {
            try {
                recover(e);
            } catch (RuntimeException ex) {
                DaemonLog.warn("migration-recovery-failed", "id", e.id(), "pid", e.pid(), "detail", ex.getMessage()
                    + "; kept in " + config.controlSocket().getParent().resolve("migrations") + " for the next start");
            }
        }
    }

    private void recover(MigrationJournal.Entry e) {
        boolean source = e.role().equals("source");
        boolean serviceHere = source ? e.phase().equals("prepared") : e.phase().equals("committed");
        int connections = 0;
        if (source && Files.isDirectory(Path.of("/proc", Integer.toString(e.pid())))) {
            if (serviceHere) {
                connections = CheckpointEngine.recoverAbandoned(e.pid());
            } else {
                ProcessHandle.of(e.pid()).ifPresent(ProcessHandle::destroyForcibly);   // its copy runs on the destination
            }
        }
        if (e.vip() != null) {
            vips.get().recover(address(e.vip()), e.prefix(), serviceHere);
        }
        journal.remove(e.id());
        DaemonLog.warn("migration-recovered", "id", e.id(), "role", e.role(), "phase", e.phase(), "pid", e.pid(),
            "vip", e.vip() == null ? "-" : e.vip(), "serviceHere", serviceHere, "connectionsOutOfRepair", connections);
    }

    /**
     * Pays the first migration's one-time costs now: the VIP manager (hold rules, capture, sockets)
     * if the interface exists, and the engine's class loading and compilation.
     */
    private void warmUp() {
        try {
            vips.get();
        } catch (RuntimeException e) {
            DaemonLog.warn("vip-manager-unavailable", "interface", config.vipInterface(), "detail", e.getMessage());
        }
        try {
            DaemonLog.info("warmed-up", "millis", EngineWarmUp.run() / 1_000_000);
        } catch (IOException | RuntimeException e) {
            DaemonLog.warn("warm-up-failed", "detail", e.getMessage() + "; the first migration will be slower");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- source ----

    /**
     * {"op": "migrate", "pid": N, "to": NODE, "vip": IP (optional), "replay": true, "mode": "staged" or "bundle",
     * "maxRounds", "stopBelowPages", "bandwidthMegabytesPerSecond" (optional, else the configuration's)}.
     */
    private ObjectNode migrate(ControlCall call) {
        JsonNode r = call.request();
        if (!r.path("pid").canConvertToInt() || r.path("pid").asInt() <= 0 || !r.path("to").isTextual()) {
            throw new ControlRefusedException("migrate needs a numeric \"pid\" and a node name \"to\"");
        }
        int pid = r.path("pid").asInt();
        String to = r.path("to").asText();
        String node = config.nodeName();
        if (!Files.isDirectory(Path.of("/proc", Integer.toString(pid)))) {
            throw new ControlRefusedException("process " + pid + " does not exist on " + node);
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
        VipManager manager = vips.get();
        Optional<ServiceVip> vip = r.path("vip").isTextual()
            ? Optional.of(ServiceVip.named(manager, address(r.path("vip").asText())))
            : ServiceVip.of(pid, manager.interfaceAddresses());
        String mode = r.path("mode").asText("staged");
        if (!mode.equals("staged") && !mode.equals("bundle")) {
            throw new ControlRefusedException("mode '" + mode + "' is neither staged nor bundle");
        }
        boolean staged = mode.equals("staged");
        PrecopyOptions precopy;
        Bandwidth bandwidth;
        try {
            precopy = new PrecopyOptions(
                r.path("stopBelowPages").canConvertToLong() ? r.path("stopBelowPages").asLong() : config.precopy().stopBelowPages(),
                r.path("maxRounds").canConvertToInt() ? r.path("maxRounds").asInt() : config.precopy().maxRounds());
            bandwidth = r.path("bandwidthMegabytesPerSecond").isNumber()
                ? Bandwidth.megabytesPerSecond(r.path("bandwidthMegabytesPerSecond").asDouble()) : config.migrationBandwidth();
        } catch (IllegalArgumentException e) {
            throw new ControlRefusedException(e.getMessage());
        }
        String id = node + "-" + pid + "-" + Long.toString(System.currentTimeMillis(), 36);
        Migrations.Migration record = new Migrations.Migration(id, pid, "source", to, "preflight", Instant.now());
        daemon.migrations().begin(record);
        SourceSwitch vipSwitch = null;
        try {
            MigrationJournal.Entry entry = new MigrationJournal.Entry(id, "source", pid,
                vip.map(v -> v.address().getHostAddress()).orElse(null), vip.map(ServiceVip::prefix).orElse(0), "prepared");
            journal.write(entry);
            vipSwitch = vip.map(v -> manager.source(v.address(), v.prefix())).orElse(null);
            if (vipSwitch != null) {
                outgoing.put(id, vipSwitch);
            }
            MigrationProtocol.Prepare prepare = new MigrationProtocol.Prepare(id, pid, threadIds(pid), exe(pid),
                vip.map(v -> v.address().getHostAddress()).orElse(null), vip.map(ServiceVip::prefix).orElse(0),
                HexFormat.of().formatHex(manager.mac()), !r.path("replay").isBoolean() || r.path("replay").asBoolean(), staged);
            try {
                peer.request(Message.json(MigrationProtocol.PREPARE, prepare));
            } catch (PeerException e) {
                throw new ControlRefusedException(e.reason() == PeerException.Reason.REMOTE ? to + " refused: " + e.getMessage()
                    : "cannot prepare " + to + ": " + e.getMessage());
            }
            ObjectNode report = new OutgoingMigration(id, pid, peer, vip.orElse(null), vipSwitch, call, daemon.migrations(), record,
                () -> journal.write(entry.at("committing")), staged ? precopy : null, bandwidth).run();
            report.put("from", node);
            return report;
        } finally {
            outgoing.remove(id);
            if (vipSwitch != null) {
                vipSwitch.close();
            }
            journal.remove(id);
            daemon.migrations().end(id);
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

    private Message prepare(PeerSession source, MigrationProtocol.Prepare p) {
        String node = config.nodeName();
        daemon.migrations().begin(new Migrations.Migration(p.id(), p.pid(), "destination", source.peerName(), "prepared", Instant.now()));
        DestinationSwitch vipSwitch = null;
        try {
            for (int tid : p.tids()) {
                Path proc = Path.of("/proc", Integer.toString(tid));
                if (Files.exists(proc)) {
                    throw new ControlRefusedException((tid == p.pid() ? "pid " : "thread id ") + tid + " is in use on " + node
                        + " (by '" + comm(proc) + "'); stop that process there, or migrate to another node");
                }
            }
            if (!Files.isRegularFile(Path.of(p.exe()))) {
                throw new ControlRefusedException("executable " + p.exe() + " does not exist on " + node
                    + "; nodes share their files (install it there at the same path)");
            }
            journal.write(new MigrationJournal.Entry(p.id(), "destination", p.pid(), p.vip(), p.prefix(), "prepared"));
            if (p.vip() != null) {
                VipManager manager = vips.get();
                vipSwitch = manager.destination(address(p.vip()), p.prefix(), HexFormat.of().parseHex(p.sourceMac()));
                vipSwitch.hold();
                vipSwitch.takeVip();
            }
            IncomingMigration migration = new IncomingMigration(p, vipSwitch);
            incoming.put(p.id(), migration);
            source.closed().thenRun(() -> abandon(p.id()));
            return Message.json("migrate.prepared", new MigrationProtocol.Prepared(p.id(),
                vipSwitch == null ? null : ArpFrame.mac(vips.get().mac())));
        } catch (RuntimeException e) {
            if (vipSwitch != null) {
                vipSwitch.rollback();
                vipSwitch.close();
            }
            journal.remove(p.id());
            daemon.migrations().end(p.id());
            throw e;
        }
    }

    private Message receiveImage(PeerSession source, Message header, InboundStream image) throws Exception {
        IncomingMigration m = incoming(header.bodyAs(MigrationProtocol.Id.class).id());
        daemon.migrations().update(new Migrations.Migration(m.id(), m.prepare.pid(), "destination", source.peerName(), "restore",
            Instant.now()));
        return Message.json("migrate.restored", m.restore(source, image));
    }

    private Message commit(String id) throws Exception {
        IncomingMigration m = incoming(id);
        MigrationProtocol.Restored running = m.commit();
        MigrationProtocol.Prepare p = m.prepare;
        journal.write(new MigrationJournal.Entry(id, "destination", p.pid(), p.vip(), p.prefix(), "committed"));
        return Message.json("migrate.running", running);
    }

    /** Packets the source still got after the switch; answers whether every announcement is out. */
    private Message late(HeldPacketCodec.Batch batch) {
        IncomingMigration m = incoming(batch.id());
        boolean done = true;
        if (m.vip != null) {
            m.vip.replayLate(batch.packets());
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
        m.abort();
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

    /** The source's session ended: a migration not yet committed here is discarded, the VIP given up. */
    private void abandon(String id) {
        IncomingMigration m = incoming.get(id);
        if (m == null) {
            return;
        }
        DaemonLog.warn("migration-abandoned", "id", id, "detail", "the source's session closed before the migration ended");
        m.abort();
        if (m.vip != null) {
            m.vip.rollback();
            m.vip.stopHolding();
        }
        finish(m);
    }

    private void finish(IncomingMigration m) {
        if (incoming.remove(m.id(), m)) {
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

    private static String comm(Path proc) {
        try {
            return Files.readString(proc.resolve("comm")).strip();
        } catch (IOException gone) {
            return "?";
        }
    }

    private static InetAddress address(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (IOException e) {
            throw new ControlRefusedException("'" + text + "' is not an IP address");
        }
    }

    @Override
    public void close() {
        vips.close();
    }
}
