package io.pmig.daemon.migration;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.Round;
import io.pmig.checkpoint.RefusedException;
import io.pmig.daemon.Migrations;
import io.pmig.daemon.config.Bandwidth;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.OutboundStream;
import io.pmig.daemon.peer.PeerException;
import io.pmig.daemon.peer.PeerSession;
import io.pmig.vip.SourceSwitch;
import io.pmig.vip.hold.HeldPacket;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * One migration leaving this node, run from start to end on the thread of the control request
 * that asked for it (the frozen original belongs to that thread: ptrace). The steps and what an
 * abort undoes are in docs/pmigd.md ("Migration").
 */
final class OutgoingMigration {
    private static final Duration RESTORE_TIMEOUT = Duration.ofSeconds(IncomingMigration.DECISION_TIMEOUT_SECONDS);
    private static final long PROGRESS_INTERVAL_NANOS = 100_000_000L;
    private static final long SETTLE_PAUSE_MS = 5;
    private static final long PAGE = 4096;

    private final String id;
    private final int pid;
    private final PeerSession peer;
    private final ServiceVip vip;
    private final SourceSwitch vipSwitch;
    private final ControlCall call;
    private final Migrations migrations;
    private final Runnable beforeCommit;
    /** Null for a bundle migration. */
    private final PrecopyOptions precopyOptions;
    private final boolean staged;
    private final Bandwidth bandwidth;
    private Migrations.Migration record;
    private List<Round> rounds = List.of();
    private String tracking;
    private long lastProgress;

    OutgoingMigration(String id, int pid, PeerSession peer, ServiceVip vip, SourceSwitch vipSwitch, ControlCall call,
                      Migrations migrations, Migrations.Migration record, Runnable beforeCommit, PrecopyOptions precopyOptions,
                      Bandwidth bandwidth) {
        this.id = id;
        this.pid = pid;
        this.peer = peer;
        this.vip = vip;
        this.vipSwitch = vipSwitch;
        this.call = call;
        this.migrations = migrations;
        this.record = record;
        this.beforeCommit = beforeCommit;
        this.precopyOptions = precopyOptions;
        this.staged = precopyOptions != null;
        this.bandwidth = bandwidth;
    }

    SourceSwitch vipSwitch() {
        return vipSwitch;
    }

    /** Runs the migration; on any failure before the commit the service runs on here, as before. */
    ObjectNode run() {
        long start = System.nanoTime();
        FrozenCheckpoint frozen = null;
        String phase = "prepare";
        try {
            OutboundStream image = peer.openStream(Message.json(MigrationProtocol.IMAGE, new MigrationProtocol.Id(id)), bandwidth);
            CheckpointOptions options = new CheckpointOptions(false).withProgress(this::progress);
            long holdOn;
            long freeze;
            long transferStart = System.nanoTime();
            if (staged) {
                phase = "pre-copy";
                phase("pre-copy");
                try (PrecopySource precopy = new CheckpointEngine().precopy(pid, precopyOptions)) {
                    do {
                        image.write(MigrationProtocol.ROUND_FOLLOWS);
                        progress(precopy.sendRound(image));
                    } while (!precopy.shouldStop());
                    tracking = precopy.trackingMethod();
                    holdOn = holdVip();
                    phase = "checkpoint";
                    phase("transfer");
                    freeze = System.nanoTime();
                    image.setBandwidth(Bandwidth.UNLIMITED);    // the frozen last part counts in the downtime: full speed, as Xen does
                    image.write(MigrationProtocol.LAST_PART_FOLLOWS);
                    frozen = precopy.finish(image, options);
                    rounds = precopy.rounds();
                }
            } else {
                holdOn = holdVip();
                phase = "checkpoint";
                phase("transfer");
                freeze = System.nanoTime();
                frozen = new CheckpointEngine().checkpoint(pid, image, options);
            }
            long imageSent = System.nanoTime();
            phase = "restore";
            phase("restore");
            MigrationProtocol.Restored restored = image.finish(RESTORE_TIMEOUT).bodyAs(MigrationProtocol.Restored.class);
            phase = "commit";
            beforeCommit.run();
            MigrationProtocol.Restored running = peer.request(Message.json(MigrationProtocol.COMMIT, new MigrationProtocol.Id(id)),
                RESTORE_TIMEOUT).bodyAs(MigrationProtocol.Restored.class);
            long resumed = System.nanoTime();
            frozen.commit();
            phase("settle");
            long settleStart = System.nanoTime();
            settle();
            long end = System.nanoTime();
            ObjectNode report = JsonNodeFactory.instance.objectNode();
            report.put("id", id).put("pid", pid).put("to", peer.peerName()).put("restoredPid", running.pid())
                .put("vip", vip == null ? null : vip.address().getHostAddress())
                .put("totalMillis", millis(end - start))
                .put("settleMillis", millis(end - settleStart))
                .put("downtimeMillis", millis(resumed - freeze))
                .put("clientStallMillis", millis(resumed - holdOn))
                .put("frozenUntilImageMillis", millis(frozen.report().frozenNanos()))
                .put("restoreMillis", millis(restored.restoreNanos()))
                .put("bytesSent", image.bytesWritten())
                .put("megabytesPerSecond", image.bytesWritten() / 1e6 / ((imageSent - transferStart) / 1e9))
                .put("bandwidthLimitMegabytesPerSecond", bandwidth.megabytesPerSecond())
                .put("memoryBytes", staged ? rounds.get(0).pagesSent() * PAGE : frozen.report().pageBytes())
                .put("heldPackets", vipSwitch == null ? 0 : vipSwitch.held())
                .put("replayedPackets", restored.replayed())
                .put("encrypted", peer.encrypted())
                .put("mode", staged ? "staged" : "bundle");
            if (staged) {
                report.put("tracking", tracking);
                report.put("pagesSentMoreThanOnce", rounds.stream().mapToLong(Round::pagesResent).sum());
                ArrayNode list = report.putArray("rounds");
                for (Round r : rounds) {
                    list.addObject().put("round", r.number()).put("last", r.last()).put("pagesSent", r.pagesSent())
                        .put("bytes", r.bytes()).put("millis", millis(r.nanos())).put("pagesDirtiedMeanwhile", r.pagesDirtied());
                }
            }
            DaemonLog.info("migrated", "id", id, "pid", pid, "to", peer.peerName(), "downtimeMillis", report.get("downtimeMillis"),
                "bytes", image.bytesWritten());
            return report;
        } catch (RuntimeException | Error e) {
            String outcome = abort(frozen);
            if (e instanceof RefusedException r) {
                throw new ControlRefusedException(r.getMessage() + " (" + outcome + ")");
            }
            throw new MigrationFailedException("migration " + id + " of process " + pid + " to " + peer.peerName()
                + " failed at " + phase + ": " + describe(e) + "; " + outcome, e);
        } catch (Exception e) {
            String outcome = abort(frozen);
            throw new MigrationFailedException("migration " + id + " of process " + pid + " to " + peer.peerName()
                + " failed at " + phase + ": " + describe(e) + "; " + outcome, e);
        }
    }

    /** Starts holding the VIP's packets (the freeze follows at once); returns when. */
    private long holdVip() {
        if (vipSwitch != null) {
            vipSwitch.hold();
        }
        return System.nanoTime();
    }

    private void progress(Round round) {
        ObjectNode p = JsonNodeFactory.instance.objectNode();
        p.put("phase", "pre-copy").put("round", round.number()).put("pagesSent", round.pagesSent()).put("bytes", round.bytes())
            .put("millis", millis(round.nanos())).put("pagesDirtiedMeanwhile", round.pagesDirtied());
        call.progress(p);
    }

    /**
     * After the commit: until the destination's announcements are all out, what stale neighbour
     * caches still send here goes on to it; then the last of it, and this node stops holding.
     */
    private void settle() throws InterruptedException {
        while (vipSwitch != null) {
            List<HeldPacket> late = vipSwitch.forward();
            Message answer = peer.request(new Message(MigrationProtocol.LATE,
                HeldPacketCodec.encode(new HeldPacketCodec.Batch(id, false, late))));
            if (answer.bodyJson().path("done").asBoolean()) {
                break;
            }
            Thread.sleep(SETTLE_PAUSE_MS);
        }
        peer.request(new Message(MigrationProtocol.LATE, HeldPacketCodec.encode(new HeldPacketCodec.Batch(id, true,
            vipSwitch == null ? List.of() : vipSwitch.stopHolding()))));
    }

    /**
     * Undoes what was done: the destination discards its copy and gives the VIP back with what it
     * held; this node takes the VIP back, replays, and thaws the original. Returns what happened,
     * for the error message.
     */
    private String abort(FrozenCheckpoint frozen) {
        List<HeldPacket> heldThere = List.of();
        boolean reached = true;
        try {
            heldThere = HeldPacketCodec.decode(peer.request(Message.json(MigrationProtocol.ABORT, new MigrationProtocol.Id(id)),
                RESTORE_TIMEOUT).body());
        } catch (PeerException e) {
            reached = false;
            DaemonLog.warn("migration-abort-unreached", "id", id, "peer", peer.peerName(), "detail", e.getMessage());
        }
        if (vipSwitch != null) {
            vipSwitch.rollback(heldThere);
            try {
                while (reached && !vipSwitch.announceDue()) {
                    vipSwitch.replayLate(HeldPacketCodec.decode(peer.request(Message.json(MigrationProtocol.FORWARD,
                        new MigrationProtocol.Forward(id, false))).body()));
                    Thread.sleep(SETTLE_PAUSE_MS);
                }
                if (reached) {
                    vipSwitch.replayLate(HeldPacketCodec.decode(peer.request(Message.json(MigrationProtocol.FORWARD,
                        new MigrationProtocol.Forward(id, true))).body()));
                }
            } catch (PeerException | InterruptedException e) {
                DaemonLog.warn("migration-abort-settle", "id", id, "detail", e.getMessage());
            }
        }
        if (frozen != null) {
            frozen.abort();
        }
        // a checkpoint that failed has thawed the process itself
        return "the process runs on here" + (vip == null ? "" : " with " + vip.address().getHostAddress());
    }

    private void progress(long bytes, long expected) {
        long now = System.nanoTime();
        if (now - lastProgress < PROGRESS_INTERVAL_NANOS && bytes < expected) {
            return;
        }
        lastProgress = now;
        ObjectNode p = JsonNodeFactory.instance.objectNode();
        p.put("phase", "transfer").put("bytes", bytes).put("total", expected);
        call.progress(p);
    }

    private void phase(String next) {
        record = record.withPhase(next);
        migrations.update(record);
        ObjectNode p = JsonNodeFactory.instance.objectNode();
        p.put("phase", next).put("at", Instant.now().toString());
        call.progress(p);
    }

    private static String describe(Throwable e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static double millis(long nanos) {
        return Math.round(nanos / 1e4) / 100.0;
    }
}
