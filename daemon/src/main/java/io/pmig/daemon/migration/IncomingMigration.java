package io.pmig.daemon.migration;

import io.pmig.checkpoint.PrecopyTarget;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.StepTimes;
import io.pmig.checkpoint.postcopy.PageFetcher;
import io.pmig.checkpoint.postcopy.PostcopyReport;
import io.pmig.checkpoint.tree.PidNamespaces;
import io.pmig.daemon.config.FaultPause;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.peer.InboundStream;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.OutboundStream;
import io.pmig.daemon.peer.PeerSession;
import io.pmig.vip.DestinationSwitch;
import io.pmig.vip.hold.HeldPacket;
import io.pmig.vip.source.SourceAddress;

import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One migration arriving at this node. The restore runs on a thread of its own (ptrace binds the
 * restored process to the thread that made it) and parks there with the process restored and
 * stopped, its sockets live but reached by nothing (what the clients send is held), until the source decides: commit
 * (replay what was held, resume it) or abort (kill it; its connections go back into repair mode first, so the clients
 * see nothing, and what was held goes back to the source). A source that decides
 * nothing within {@link #DECISION_TIMEOUT_SECONDS} counts as an abort, and {@code whenUndecided}
 * runs (the daemon gives the VIP back as for a source that went away).
 */
final class IncomingMigration {
    static final long DECISION_TIMEOUT_SECONDS = 30;

    final MigrationProtocol.Prepare prepare;
    /** This node's name, for the report. */
    private final String node;
    /** Why the copy runs in a PID namespace of its own here, decided when it was prepared; null: with its own numbers. */
    private final String pidNamespace;
    /** Null for a process without a VIP. */
    final DestinationSwitch vip;
    private final FaultPause pause;
    private final Runnable whenUndecided;
    private final CompletableFuture<MigrationProtocol.Restored> restored = new CompletableFuture<>();
    private final CompletableFuture<Boolean> decision = new CompletableFuture<>();
    private final CompletableFuture<MigrationProtocol.Restored> decided = new CompletableFuture<>();
    /** When the part of the restore that counts in the downtime began: the whole restore, or a staged one's last part. */
    private long lastPartStart;
    /** Guards the two below; notified at each round applied and when the restore fails. */
    private final Object roundsLock = new Object();
    /** The pre-copy rounds the restore has applied. */
    private int roundsApplied;
    private boolean restoreFailed;
    /**
     * The VIP's switch, asked of the source as soon as it froze the original (a staged move's last part begins) rather
     * than once the copy is restored: the source's release and this node's announcement then overlap the restore, and the
     * go-live hook finds the VIP switched. Null until asked; completes once what the source held is kept here and the VIP
     * announced.
     */
    private CompletableFuture<Message> switching;
    private final PostcopyLinks postcopyLinks;
    /** The post-copy of a last part that left pages behind, once its restore started it; null without. */
    private volatile PageFetcher postcopy;
    /** Its pages stream's handler, which answers once the post-copy ended; null without. */
    private volatile PostcopyLinks.Arrival arrival;
    /** Runs once every page of a post-copy is in place (the journal says "committed" from then on). */
    private volatile Runnable whenPostcopyDone = () -> { };

    IncomingMigration(MigrationProtocol.Prepare prepare, String node, DestinationSwitch vip, FaultPause pause,
                      Runnable whenUndecided, PostcopyLinks postcopyLinks) {
        this.prepare = prepare;
        this.node = node;
        this.pidNamespace = pidNamespaceNeeded(prepare, node);
        this.vip = vip;
        this.pause = pause;
        this.whenUndecided = whenUndecided;
        this.postcopyLinks = postcopyLinks;
    }

    String id() {
        return prepare.id();
    }

    /** The restored copy's pid on this node; asked once the restore answered (before the commit). */
    int restoredPid() {
        return restored.join().pid();
    }

    /**
     * Restores from {@code image} on a new thread; returns once the process is restored (or the restore failed).
     * It gives up only after a whole timeout in which no byte of the image was read: a bandwidth-limited
     * image may take longer than one.
     */
    MigrationProtocol.Restored restore(PeerSession source, InboundStream image) throws Exception {
        Thread restorer = new Thread(() -> restoreAndAwaitDecision(source, image), "pmigd-restore-" + id());
        restorer.setDaemon(true);
        restorer.start();
        while (true) {
            long read = image.bytesRead();
            try {
                return await(restored, DECISION_TIMEOUT_SECONDS);
            } catch (TimeoutException e) {
                if (image.bytesRead() == read) {
                    throw new TimeoutException("no byte of the image from " + source.peerName() + " arrived for "
                        + DECISION_TIMEOUT_SECONDS + " s, and the restore did not end");
                }
            }
        }
    }

    private void restoreAndAwaitDecision(PeerSession source, InboundStream image) {
        lastPartStart = System.nanoTime();
        // its pids never block a move: taken here (now, or by the time the restorer makes it), the copy gets a PID
        // namespace of its own with the same numbers inside
        RestoreOptions options = new RestoreOptions(pidNamespace != null).withNewPidNamespaceIfTaken().withBeforeSocketsGoLive((pid, connections) -> {
            if (prepare.sourcePin() != null) {
                // stopped until the commit: its first connect after it runs leaves from the VIP
                SourceAddress.pin(SourceAddress.cgroupOf(pid), InetAddress.getByName(prepare.sourcePin()));
            }
            if (vip != null) {
                switchVip(source);
            }
        });
        try (RestoredProcess process = prepare.staged() ? restoreStaged(image, source, options)
                : new RestoreEngine().restore(image, "node " + source.peerName(), options)) {
            String note = pidNamespace != null || !process.inNewPidNamespace() ? pidNamespace
                : "an id of process " + prepare.pid() + " was taken on " + node + " meanwhile: the process runs there in a PID"
                    + " namespace of its own, with pid " + prepare.pid() + " inside";
            restored.complete(new MigrationProtocol.Restored(id(), process.pid(), System.nanoTime() - lastPartStart, 0,
                process.report().steps(), note));
            boolean timedOut = false;
            try {
                decision.get(DECISION_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                timedOut = decision.complete(false);   // unless a commit arrived just now
            }
            if (decision.join()) {
                long woken = System.nanoTime();
                long replayed = vip == null ? 0 : replayHeld();
                long replayedAt = System.nanoTime();
                try {
                    process.resume();
                } catch (RuntimeException e) {
                    throw postcopy == null ? e : postcopy.explained(e);
                }
                long resumed = System.nanoTime();
                // the answer's steps are the commit's here: the source's report puts them beside its round trip
                StepTimes commitSteps = new StepTimes(List.of(new StepTimes.Step("replay", replayedAt - woken),
                    new StepTimes.Step("resume", resumed - replayedAt)));
                decided.complete(new MigrationProtocol.Restored(id(), process.pid(), resumed - lastPartStart, replayed, commitSteps,
                    note));
                awaitPostcopy();
            } else {
                process.kill();
                endPostcopy(new IllegalStateException("migration " + id() + " was aborted before its copy ran"));
                awaitSwitch();
                decided.completeExceptionally(new IllegalStateException("migration " + id() + " was aborted"));
                if (timedOut) {
                    DaemonLog.warn("migration-undecided", "id", id(), "detail", "no decision from the source within "
                        + DECISION_TIMEOUT_SECONDS + " s: the restored process is discarded");
                    whenUndecided.run();
                }
            }
        } catch (Throwable e) {
            synchronized (roundsLock) {
                restoreFailed = true;
                roundsLock.notifyAll();
            }
            endPostcopy(e);
            restored.completeExceptionally(e);
            awaitSwitch();
            decided.completeExceptionally(e);
        }
    }

    /**
     * Why the copy must run in a PID namespace of its own on {@code node}, or null: the process lives in one already (its
     * numbers are its own there), or one of its ids is taken here. Looked at when the migration is prepared, off the
     * downtime; an id taken after that makes the restorer choose a namespace all the same.
     */
    private static String pidNamespaceNeeded(MigrationProtocol.Prepare prepare, String node) {
        if (prepare.ownPidNamespace()) {
            return "process " + prepare.pid() + " lives in a PID namespace of its own, and moved to " + node + " with it";
        }
        List<Integer> ids = new ArrayList<>(List.of(prepare.pid()));
        prepare.tids().stream().filter(tid -> tid != prepare.pid()).forEach(ids::add);
        return PidNamespaces.firstTaken(ids, "on " + node).map(taken -> taken + ": the process runs there in a PID namespace"
            + " of its own, with pid " + prepare.pid() + " inside").orElse(null);
    }

    /**
     * Restore-in-advance: the process is built from the first round, each further round's pages go
     * straight into it, and the last part (after the source froze the original) completes it.
     */
    private RestoredProcess restoreStaged(InboundStream image, PeerSession source, RestoreOptions options) throws IOException {
        requireMarker(image.read(), MigrationProtocol.ROUND_FOLLOWS);
        try (PrecopyTarget target = new RestoreEngine().prepareInAdvance(image, "node " + source.peerName(), options)) {
            roundApplied();
            int marker;
            while ((marker = image.read()) == MigrationProtocol.ROUND_FOLLOWS) {
                target.receiveRound(image);
                roundApplied();
            }
            if (marker != MigrationProtocol.LAST_PART_POSTCOPY_FOLLOWS) {
                requireMarker(marker, MigrationProtocol.LAST_PART_FOLLOWS);
            }
            lastPartStart = System.nanoTime();
            if (vip != null) {
                startSwitch(source);
            }
            if (marker == MigrationProtocol.LAST_PART_FOLLOWS) {
                return target.finish(image, options);
            }
            // post-copy: the page link both ways before the last part is read on, its restore may fault on pages left behind
            arrival = postcopyLinks.arrival(id());
            OutboundStream requests = source.openStream(Message.json(MigrationProtocol.PAGE_REQUESTS, new MigrationProtocol.Id(id())));
            RestoredProcess process = target.finish(image, options, arrival.pages(), requests);
            postcopy = target.postcopy();
            return process;
        }
    }

    private void roundApplied() {
        synchronized (roundsLock) {
            roundsApplied++;
            roundsLock.notifyAll();
        }
    }

    /**
     * Waits until the restore has applied {@code rounds} pre-copy rounds (the source's {@link MigrationProtocol#CAUGHT_UP});
     * fails when the restore ended first, or after {@code timeoutMillis}.
     */
    void awaitRounds(int rounds, long timeoutMillis) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        synchronized (roundsLock) {
            while (roundsApplied < rounds) {
                if (restoreFailed) {
                    throw new IllegalStateException("the restore of migration " + id() + " failed after " + roundsApplied
                        + " of " + rounds + " pre-copy rounds");
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException("the restore of migration " + id() + " applied " + roundsApplied + " of "
                        + rounds + " pre-copy rounds in " + timeoutMillis + " ms");
                }
                TimeUnit.NANOSECONDS.timedWait(roundsLock, left);
            }
        }
    }

    /**
     * Once the copy runs: waits until it has every page left behind, and answers the pages stream's handler with the
     * outcome. A failed post-copy has killed the copy; that is the destination's to say, the source learns it on its
     * page link.
     */
    private void awaitPostcopy() {
        if (postcopy == null) {
            return;
        }
        PostcopyReport report;
        try {
            report = postcopy.awaitEnd();
        } catch (RuntimeException e) {
            DaemonLog.warn("migration-postcopy-failed", "id", id(), "detail", e.getMessage());
            arrival.failed(e);
            return;
        }
        try {
            whenPostcopyDone.run();
        } catch (RuntimeException e) {
            DaemonLog.warn("migration-journal-failed", "id", id(), "detail", e.getMessage()
                + "; the copy has every page, but a daemon restarted now would take it for one still waiting for pages");
        }
        arrival.ended(report);
    }

    /** Ends a post-copy that will not run or did not finish ({@code why}; null: none was started). */
    private void endPostcopy(Throwable why) {
        if (postcopy != null) {
            postcopy.close();
        }
        if (arrival != null && why != null) {
            arrival.failed(why);
        }
    }

    private static void requireMarker(int got, int expected) throws IOException {
        if (got != expected) {
            throw new IOException("the staged image stream has " + (got < 0 ? "ended" : "marker " + got) + " where '"
                + (char) expected + "' belongs");
        }
    }

    /**
     * The source gives the VIP up and sends what it held; once it answers, this node (which took the VIP silently when
     * prepared, and holds its packets) keeps that with its own hold until the commit, and announces the VIP. Asked once
     * the source froze the original: from then on its inbound packets are held on both nodes, so it no longer matters
     * which node the clients send to.
     */
    private void startSwitch(PeerSession source) {
        switching = source.send(Message.json(MigrationProtocol.SWITCH, new MigrationProtocol.Id(id()))).thenApply(answer -> {
            vip.keep(HeldPacketCodec.decode(answer.body()));
            vip.announce();
            return answer;
        });
    }

    /** In the restore's hook: the VIP switched (asked now if not yet), what was held waiting for the commit. */
    private void switchVip(PeerSession source) throws InterruptedException {
        pause.pauseAt(FaultPause.Point.SWITCH);
        if (switching == null) {
            startSwitch(source);
        }
        try {
            switching.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : new IllegalStateException(e.getCause());
        }
    }

    /**
     * The commit: what the clients sent since the freeze reaches the copy; returns the packets replayed. The copy runs
     * whatever the replay does: what it could not put in, the clients send again.
     */
    private long replayHeld() {
        try {
            if (prepare.replay()) {
                vip.replay();
            } else {
                vip.dropHeld();
            }
        } catch (RuntimeException e) {
            DaemonLog.warn("migration-replay-failed", "id", id(), "detail", e.getMessage()
                + "; the copy runs, and its clients retransmit what was held");
        }
        vip.stopHolding();
        return vip.replayed();
    }

    /**
     * What the source still received for the VIP after the switch (stale neighbour caches): put into this node's stack,
     * or dropped under --no-replay as what was held at the commit is, so that the clients retransmit every packet the
     * move held.
     */
    void lateFromSource(List<HeldPacket> packets) {
        if (prepare.replay()) {
            vip.replayLate(packets);
        }
    }

    /** Before a copy that will not run is reported gone: a switch under way ends first, so a rollback of the VIP follows its announcement. */
    private void awaitSwitch() {
        if (switching == null) {
            return;
        }
        try {
            switching.get(DECISION_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException failed) {
            // the source did not give the VIP up (or cannot say): nothing was announced to undo
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the restored copy will run with pages still at the source (its restore started a post-copy). */
    boolean postcopyRuns() {
        return postcopy != null;
    }

    /** {@code action} runs once every page of the post-copy is in place (not if it fails). */
    void whenPostcopyDone(Runnable action) {
        whenPostcopyDone = action;
    }

    /** The source's commit: resumes the process; returns once it runs. */
    MigrationProtocol.Restored commit() throws Exception {
        decision.complete(true);
        return await(decided, DECISION_TIMEOUT_SECONDS);
    }

    /**
     * The source's abort, or its session's end: discards the restored process (if any) and waits
     * until it is gone. Returns false, changing nothing, when the commit came first: the copy runs.
     */
    boolean abort() {
        if (!decision.complete(false) && decision.join()) {
            return false;
        }
        restored.completeExceptionally(new IllegalStateException("aborted"));
        try {
            decided.get(DECISION_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException expected) {
            // the abort itself, or the restore's failure
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (TimeoutException e) {
            DaemonLog.warn("migration-abort-slow", "id", id(), "detail", "the restore did not stop within "
                + DECISION_TIMEOUT_SECONDS + " s");
        }
        return true;
    }

    /** What became of the migration here, for a source that lost the commit's answer. */
    CommitOutcome outcome() {
        if (!decision.isDone()) {
            return CommitOutcome.PENDING;
        }
        return decision.join() ? CommitOutcome.COMMITTED : CommitOutcome.ABORTED;
    }

    private static <T> T await(CompletableFuture<T> f, long seconds) throws Exception {
        try {
            return f.get(seconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }
}
