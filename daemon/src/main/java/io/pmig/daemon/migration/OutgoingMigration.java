package io.pmig.daemon.migration;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.CheckedProcess;
import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.cgroup.FreezerPark;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.ListenQueueCounters;
import io.pmig.checkpoint.ListenerBacklog;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.Round;
import io.pmig.checkpoint.StepTimes;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.PageCompressingChannel;
import io.pmig.checkpoint.image.PageCompression;
import io.pmig.checkpoint.postcopy.PostcopyReport;
import io.pmig.daemon.Migrations;
import io.pmig.daemon.config.Bandwidth;
import io.pmig.daemon.config.FaultPause;
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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;

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
    private static final long DRAIN_POLL_NANOS = 1_000_000;
    /**
     * How long the listeners' counters must stay still before the freeze once they moved during the migration: a
     * connection answered with a SYN cookie, or whose completing ACK a full accept queue dropped, exists only at its client
     * until the client sends again (its retransmissions 200, 400, 800 ms apart), invisible to the drain
     * ({@link ListenQueueCounters}).
     */
    private static final long OVERFLOW_QUIET_NANOS = 1_000_000_000L;

    private final String id;
    private final int pid;
    private final PeerSession peer;
    private final ServiceVip vip;
    private final SourceSwitch vipSwitch;
    private final ControlCall call;
    private final Migrations migrations;
    private final Runnable beforeCommit;
    /** The pre-copy session, tracking writes already (its owner closes it); null for a bundle migration. */
    private final PrecopySource precopySource;
    /** The process whose pre-flight passed, for a bundle migration; null for a staged one. */
    private final CheckedProcess bundle;
    private final boolean staged;
    private final Bandwidth bandwidth;
    private final PageCompression compression;
    private final FaultPause pause;
    private final OutcomeQuery outcomeQuery;
    private final Cancellation cancellation;
    private final Duration listenerDrain;
    /** The listeners' counters when the migration was asked for: a drain after they moved waits for them to stay still. */
    private final ListenQueueCounters listenQueuesAtStart;
    private final PostcopyMode postcopyMode;
    private final PostcopyLinks postcopyLinks;
    /** The post-copy of the last part, once chosen; null without. */
    private PostcopyLinks.Serving postcopy;
    private Migrations.Migration record;
    private List<Round> rounds = List.of();
    private String tracking;
    private boolean filtered;
    private long lastProgress;
    private boolean frozenPauseDone;
    /** How long a staged migration waited, before the freeze, for the destination to apply its rounds. */
    private long catchUp;

    /** Asks the destination, for a while, whether it runs the copy after the commit's answer was lost. */
    interface OutcomeQuery {
        CommitOutcome await() throws InterruptedException;
    }

    OutgoingMigration(String id, int pid, PeerSession peer, ServiceVip vip, SourceSwitch vipSwitch, ControlCall call,
                      Migrations migrations, Migrations.Migration record, Runnable beforeCommit, PrecopySource precopySource,
                      CheckedProcess bundle, Bandwidth bandwidth, PageCompression compression, FaultPause pause, Cancellation cancellation,
                      OutcomeQuery outcomeQuery, Duration listenerDrain, PostcopyMode postcopyMode, PostcopyLinks postcopyLinks) {
        this.id = id;
        this.pid = pid;
        this.peer = peer;
        this.vip = vip;
        this.vipSwitch = vipSwitch;
        this.call = call;
        this.migrations = migrations;
        this.record = record;
        this.beforeCommit = beforeCommit;
        this.precopySource = precopySource;
        this.bundle = bundle;
        this.staged = precopySource != null;
        this.bandwidth = bandwidth;
        this.compression = compression;
        this.pause = pause;
        this.outcomeQuery = outcomeQuery;
        this.cancellation = cancellation;
        this.listenerDrain = listenerDrain;
        this.listenQueuesAtStart = listenQueuesOf(pid);
        this.postcopyMode = postcopyMode;
        this.postcopyLinks = postcopyLinks;
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
            // the engine writes its images onto it: bundle, rounds and last part compress as --compress says
            PageCompressingChannel imagePages = PageCompressingChannel.over(image, compression);
            // a cancel fails the image's writes at once, however slow the stream or long the image
            cancellation.onCancel(() -> image.abort("the migration was cancelled: " + cancellation.reason()));
            cancellation.check();
            CheckpointOptions options = new CheckpointOptions(false).withProgress(this::progress);
            long holdOn;
            long freeze;
            long drain;
            long transferStart = System.nanoTime();
            if (staged) {
                phase = "pre-copy";
                phase("pre-copy");
                int roundsSent = 0;
                do {
                    cancellation.check();
                    image.write(MigrationProtocol.ROUND_FOLLOWS);
                    progress(precopySource.sendRound(imagePages));
                    roundsSent++;
                    pause.pauseAt(FaultPause.Point.PRE_COPY);
                } while (!precopySource.shouldStop());
                tracking = precopySource.trackingMethod();
                filtered = precopySource.filtered();
                cancellation.check();
                phase = "catch-up";
                catchUp = awaitCaughtUp(roundsSent);
                phase = "listener drain";
                drain = drainListeners();
                // told before the hold: a progress line to a slow caller would lengthen the clients' stall
                phase("transfer");
                // the park after the freeze waits for no RCU grace period (FreezerPark.keptQuick): paid now, before the hold
                try (FreezerPark.QuickEntry quickPark = FreezerPark.keptQuick()) {
                    holdOn = holdVip();
                    phase = "checkpoint";
                    freeze = System.nanoTime();
                    image.setBandwidth(Bandwidth.UNLIMITED);    // the frozen last part counts in the downtime: full speed, as Xen does
                    compression.linkLimit(0);
                    if (postcopyMode.chosen(precopySource.converged())) {
                        // the page link exists before the last part: the destination's restore may touch pages left behind
                        postcopy = postcopyLinks.serve(id, pause);
                        image.write(MigrationProtocol.LAST_PART_POSTCOPY_FOLLOWS);
                        postcopy.pagesOpened(peer.openStream(Message.json(MigrationProtocol.PAGES, new MigrationProtocol.Id(id))));
                        frozen = precopySource.finish(imagePages, options, true);
                        postcopy.ready(frozen.pid(), precopySource.pagesLeftBehind());
                    } else {
                        image.write(MigrationProtocol.LAST_PART_FOLLOWS);
                        frozen = precopySource.finish(imagePages, options);
                    }
                }
                rounds = precopySource.rounds();
            } else {
                phase = "listener drain";
                drain = drainListeners();
                phase("transfer");
                try (FreezerPark.QuickEntry quickPark = FreezerPark.keptQuick()) {
                    holdOn = holdVip();
                    phase = "checkpoint";
                    freeze = System.nanoTime();
                    frozen = new CheckpointEngine().checkpoint(bundle, imagePages, options);
                }
            }
            long imageSent = System.nanoTime();
            phase = "restore";
            phase("restore");
            MigrationProtocol.Restored restored = image.finish(RESTORE_TIMEOUT).bodyAs(MigrationProtocol.Restored.class);
            long restoredAt = System.nanoTime();
            phase = "commit";
            cancellation.beginCommit();
            beforeCommit.run();
            long journaled = System.nanoTime();
            pause.pauseAt(FaultPause.Point.COMMIT);
            MigrationProtocol.Restored running = commitOrLearnOutcome();
            boolean answered = running != null;
            long resumed = System.nanoTime();
            PostcopyOutcome postcopied = awaitPostcopy();
            // the copy ran: whatever the post-copy did, the original never runs again
            frozen.commit();
            if (postcopied != null && postcopied.failure() != null) {
                throw new ServiceLostException("migration " + id + " of process " + pid + " to " + peer.peerName()
                    + ": the copy ran there, but its post-copy failed (" + postcopied.failure().getMessage() + "); the copy could not go"
                    + " on without the pages still here and was killed, and so was the original here, which must not run again"
                    + " after its copy did: the service is down, start it again", postcopied.failure());
            }
            phase("settle");
            long settleStart = System.nanoTime();
            String settleProblem = answered ? settle() : "the destination finished the VIP's move alone: the commit's answer was lost";
            long end = System.nanoTime();
            ObjectNode report = JsonNodeFactory.instance.objectNode();
            report.put("id", id).put("pid", pid).put("to", peer.peerName()).put("restoredPid", restored.pid())
                .put("vip", vip == null ? null : vip.address().getHostAddress())
                .put("totalMillis", millis(end - start))
                .put("settleMillis", millis(end - settleStart))
                .put("downtimeMillis", millis(resumed - freeze))
                .put("clientStallMillis", millis(resumed - holdOn))
                .put("listenerDrainMillis", millis(drain))
                .put("catchUpMillis", millis(catchUp))
                .put("frozenUntilImageMillis", millis(frozen.report().frozenNanos()))
                .put("restoreMillis", millis(restored.restoreNanos()))
                .put("bytesSent", image.bytesWritten())
                .put("megabytesPerSecond", image.bytesWritten() / 1e6 / ((imageSent - transferStart) / 1e9))
                .put("bandwidthLimitMegabytesPerSecond", bandwidth.megabytesPerSecond())
                .put("memoryBytes", staged ? rounds.get(0).pagesSent() * PAGE : frozen.report().pageBytes())
                .put("heldPackets", vipSwitch == null ? 0 : vipSwitch.held())
                .put("replayedPackets", answered ? running.replayed() : null)
                .put("encrypted", peer.encrypted())
                .put("mode", staged ? "staged" : "bundle")
                .set("notes", JsonNodeFactory.instance.arrayNode());
            frozen.report().processes().forEach(report.withArrayProperty("processes")::add);
            report.putObject("compression").put("mode", compression.mode().text()).put("ran", compression.ran())
                .put("ratio", Math.round(compression.ratio() * 100) / 100.0).put("pageBytes", compression.rawBytes())
                .put("pageBytesSent", compression.storedBytes()).put("runsCompressed", compression.runsCompressed())
                .put("runsRaw", compression.runsRaw());
            report.set("frozenSteps", steps(frozen.report().steps()));
            report.set("restoreSteps", steps(restored.steps()));
            // the downtime from the source's side: its frozen part, the wait for the destination's restore, its commit
            report.set("downtimeSteps", steps(new StepTimes(List.of(new StepTimes.Step("last part sent", imageSent - freeze),
                new StepTimes.Step("restored there", restoredAt - imageSent), new StepTimes.Step("journal", journaled - restoredAt),
                new StepTimes.Step("commit", resumed - journaled)))));
            if (answered) {
                report.set("commitSteps", steps(commitSteps(running.steps(), resumed - journaled)));
            }
            if (restored.pidNamespace() != null) {
                report.withArrayProperty("notes").add(restored.pidNamespace());
            }
            if (settleProblem != null) {
                report.withArrayProperty("notes").add(settleProblem);
            }
            if (staged) {
                report.put("tracking", tracking);
                report.put("pagesSentMoreThanOnce", rounds.stream().mapToLong(Round::pagesResent).sum());
                ObjectNode pc = report.putObject("postcopy").put("mode", postcopyMode.text()).put("ran", postcopied != null);
                if (postcopied != null) {
                    PostcopyReport r = postcopied.report();
                    pc.put("millis", millis(r.nanos())).put("pagesLeftBehind", r.pagesLeft()).put("pagesOnFault", r.pagesOnFault())
                        .put("pagesPushed", r.pagesPushed());
                }
                report.putObject("filter").put("mode", filtered ? "on" : "off")
                    .put("pagesHeldBack", rounds.stream().mapToLong(Round::pagesHeldBack).sum());
                ArrayNode list = report.putArray("rounds");
                for (Round r : rounds) {
                    list.addObject().put("round", r.number()).put("last", r.last()).put("pagesSent", r.pagesSent())
                        .put("bytes", r.bytes()).put("millis", millis(r.nanos())).put("pagesDirtiedMeanwhile", r.pagesDirtied())
                        .put("pagesHeldBack", r.pagesHeldBack());
                }
            }
            DaemonLog.info("migrated", "id", id, "pid", pid, "to", peer.peerName(), "downtimeMillis", report.get("downtimeMillis"),
                "bytes", image.bytesWritten());
            return report;
        } catch (CommitUndecidedException | ServiceLostException e) {
            throw e;
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

    /**
     * Tells the destination to run the copy. Returns its answer (the packets it replayed at the commit); null when the
     * answer was lost but the destination, asked again, says the copy runs. Throws when it says the copy is gone (the
     * caller rolls back) or cannot say in time (the original stays stopped: the copy may run).
     */
    private MigrationProtocol.Restored commitOrLearnOutcome() throws InterruptedException {
        try {
            return peer.request(Message.json(MigrationProtocol.COMMIT, new MigrationProtocol.Id(id)), RESTORE_TIMEOUT)
                .bodyAs(MigrationProtocol.Restored.class);
        } catch (PeerException e) {
            if (e.reason() == PeerException.Reason.REMOTE) {
                throw e;    // the destination answered: it did not run the copy
            }
            DaemonLog.warn("migration-commit-unanswered", "id", id, "peer", peer.peerName(), "detail", e.getMessage());
            phase("awaiting-outcome");
            CommitOutcome outcome = outcomeQuery.await();
            if (outcome == CommitOutcome.COMMITTED) {
                return null;
            }
            if (outcome == CommitOutcome.ABORTED) {
                throw new PeerException(PeerException.Reason.REMOTE, peer.peerName() + " discarded its copy: " + e.getMessage());
            }
            throw new CommitUndecidedException("migration " + id + " of process " + pid + " to " + peer.peerName()
                + ": the commit was sent but not answered (" + e.getMessage() + "), and " + peer.peerName()
                + " could not be asked whether its copy runs; so that the service never runs twice, process " + pid
                + " stays stopped here (its clients wait) until " + peer.peerName() + " answers: pmigd keeps asking,"
                + " and pmig status shows it meanwhile", e);
        }
    }

    /** What a post-copy moved, or why it failed (its pages then lost); null without post-copy. */
    private record PostcopyOutcome(PostcopyReport report, Exception failure) {
    }

    /**
     * Once the copy runs: waits until the destination has every page left behind (the frozen original serves them
     * meanwhile). Null without post-copy.
     */
    private PostcopyOutcome awaitPostcopy() throws InterruptedException {
        if (postcopy == null) {
            return null;
        }
        postcopy.copyRuns();
        phase("post-copy");
        try {
            return new PostcopyOutcome(postcopy.awaitEnd(), null);
        } catch (ExecutionException e) {
            return new PostcopyOutcome(null, e.getCause() instanceof Exception cause ? cause : e);
        }
    }

    /**
     * Waits until the destination has applied the {@code rounds} sent: the stream's window holds megabytes the restore
     * has not applied yet, which a freeze now would leave inside the downtime. Returns how long that took.
     */
    private long awaitCaughtUp(int rounds) {
        long start = System.nanoTime();
        peer.request(Message.json(MigrationProtocol.CAUGHT_UP, new MigrationProtocol.Rounds(id, rounds)), RESTORE_TIMEOUT);
        return System.nanoTime() - start;
    }

    /**
     * Holds new connections to the VIP (they join what is replayed there) while the process runs on and accepts what
     * its listeners hold: neither an accept queue nor a handshake under way can be restored, and ACKs completing
     * handshakes still arrive. If its listeners held connections when the drain began and their namespace's counters
     * moved since the migration was asked for (SYN cookies, completing ACKs dropped), it also waits until those stay still
     * for a second: connections then known to their clients alone come in meanwhile (a service whose listeners were
     * empty is not held up by another's overflows). Returns how long that took. Refused, naming the listeners,
     * when they still hold connections (or overflow) after {@code limits.listener.drain.millis}; the rollback then puts
     * the held connection attempts into this node's stack, so their clients are answered here without retransmitting.
     */
    private long drainListeners() {
        if (vipSwitch == null) {
            return 0;   // no VIP to hold: a listener's queue is the engine's to wait for at the freeze
        }
        long start = System.nanoTime();
        vipSwitch.holdNewConnections();
        CheckpointEngine engine = new CheckpointEngine();
        ListenQueueCounters seen = listenQueuesAtStart != null ? listenQueuesAtStart : listenQueuesOf(pid);
        boolean pressed = false;
        boolean overflowed = false;
        long stillSince = start;
        while (true) {
            List<ListenerBacklog> waiting = engine.listenerBacklogs(pid).stream().filter(l -> !l.settled()).toList();
            long now = System.nanoTime();
            pressed |= !waiting.isEmpty();
            if (waiting.isEmpty()) {
                ListenQueueCounters counters = pressed ? ListenQueueCounters.of(pid) : seen;
                if (!counters.equals(seen)) {
                    overflowed = true;
                    seen = counters;
                    stillSince = now;
                }
                if (!overflowed || now - stillSince >= OVERFLOW_QUIET_NANOS) {
                    return now - start;
                }
            }
            if (now - start > listenerDrain.toNanos()) {
                String holding = waiting.isEmpty()
                    ? "its listeners overflowed (" + seen + "): a connection answered with a SYN cookie, or whose completing ACK"
                        + " a full accept queue dropped, is known to its client alone until the client sends again, and a move"
                        + " would reset it; they did not stay still for " + OVERFLOW_QUIET_NANOS / 1_000_000 + " ms"
                    : waiting.stream().map(ListenerBacklog::toString).collect(Collectors.joining(", "))
                        + "; neither an accept queue nor a handshake under way can be moved";
                throw new RefusedException("process " + pid + " did not take the connections its listeners hold within "
                    + listenerDrain.toMillis() + " ms with new connections to " + vip.address().getHostAddress() + " held off: "
                    + holding + ", and the held connection attempts went back to the server here. Migrate when it keeps up"
                    + " with its clients, or allow it longer with limits.listener.drain.millis");
            }
            cancellation.check();
            LockSupport.parkNanos(DRAIN_POLL_NANOS);
        }
    }

    /** The listeners' counters of {@code pid}'s network namespace, or null if they cannot be read (then the process is gone). */
    private static ListenQueueCounters listenQueuesOf(int pid) {
        try {
            return ListenQueueCounters.of(pid);
        } catch (RuntimeException gone) {
            return null;
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
    private String settle() throws InterruptedException {
        pause.pauseAt(FaultPause.Point.SETTLE);
        try {
            forwardLate();
            return null;
        } catch (PeerException e) {
            // the service runs there already; what stale caches send here now is left to the clients' retransmissions
            if (vipSwitch != null) {
                vipSwitch.stopHolding();
            }
            DaemonLog.warn("migration-settle-cut", "id", id, "peer", peer.peerName(), "detail", e.getMessage());
            return "the destination finished the VIP's move alone: " + e.getMessage();
        }
    }

    private void forwardLate() throws InterruptedException {
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
        if (postcopy != null) {
            postcopy.cancel("the migration is rolled back");
        }
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
                // every announcement round goes out, whether the destination still forwards or not
                while (!vipSwitch.announceDue()) {
                    reached = reached && replayForwardedBack(false);
                    Thread.sleep(SETTLE_PAUSE_MS);
                }
                if (reached) {
                    replayForwardedBack(true);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (frozen != null) {
            frozen.abort();
        }
        // a checkpoint that failed has thawed the process itself
        return "the process runs on here" + (vip == null ? "" : " with " + vip.address().getHostAddress());
    }

    /** During a rollback: replays what the destination still got for the VIP; false once it cannot be reached. */
    private boolean replayForwardedBack(boolean end) {
        try {
            vipSwitch.replayLate(HeldPacketCodec.decode(peer.request(Message.json(MigrationProtocol.FORWARD,
                new MigrationProtocol.Forward(id, end))).body()));
            return true;
        } catch (PeerException e) {
            DaemonLog.warn("migration-abort-settle", "id", id, "detail", e.getMessage());
            return false;
        }
    }

    /** Called while the process is frozen and its (last) image goes out. */
    private void progress(long bytes, long expected) {
        if (!frozenPauseDone) {
            frozenPauseDone = true;
            pause.pauseAt(FaultPause.Point.FROZEN);
        }
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

    /** The commit's steps at the destination (its journal, the replay, the resume), then the rest of its round trip here. */
    private static StepTimes commitSteps(StepTimes there, long commitNanos) {
        List<StepTimes.Step> all = new java.util.ArrayList<>(there.steps());
        all.add(new StepTimes.Step("messages", Math.max(0, commitNanos - there.totalNanos())));
        return new StepTimes(all);
    }

    /** [{"step": "freeze", "millis": 1.2}, ...] */
    private static ArrayNode steps(StepTimes times) {
        ArrayNode list = JsonNodeFactory.instance.arrayNode();
        times.steps().forEach(s -> list.addObject().put("step", s.name()).put("millis", millis(s.nanos())));
        return list;
    }

    private String describe(Throwable e) {
        String cancelled = cancellation.reason();
        if (cancelled != null) {
            return "the migration was " + (cancelled.startsWith("cancelled") ? "" : "cancelled: ") + cancelled;
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static double millis(long nanos) {
        return Math.round(nanos / 1e4) / 100.0;
    }
}
