package io.pmig.daemon.migration;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.daemon.Migrations;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.PeerClient;
import io.pmig.daemon.peer.PeerException;
import io.pmig.daemon.service.ServiceRegistry;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Source-side migrations whose commit went out but whose answer never came back: the network
 * between the daemons was cut, the destination's daemon died, or this daemon restarted after
 * sending it. Only the destination knows whether the copy runs, so the original stays stopped
 * (parked, its connections in repair mode: the clients wait, nothing is reset) until the
 * destination answers {@link MigrationProtocol#OUTCOME}. Then the original dies or runs on, and
 * the VIP goes where the service is. The service never runs twice; it waits while the
 * destination cannot be asked.
 *
 * <p>{@link #settle} also puts straight what a previous daemon left (see MigrationService). Once
 * {@link #start}ed, one thread of its own asks again for the undecided migrations every second,
 * until it is closed.
 */
final class CommitOutcomes implements AutoCloseable {
    private static final long RETRY_MILLIS = 1_000;

    private final Duration askTimeout;
    private final MigrationJournal journal;
    private final NodeVips vips;
    private final ServiceRegistry services;
    private final Map<String, MigrationJournal.Entry> undecided = new ConcurrentHashMap<>();
    private final ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pmigd-commit-outcomes");
        t.setDaemon(true);
        return t;
    });
    private PeerClient peers;
    private Migrations migrations;

    CommitOutcomes(Duration askTimeout, MigrationJournal journal, NodeVips vips, ServiceRegistry services) {
        this.askTimeout = askTimeout;
        this.journal = journal;
        this.vips = vips;
        this.services = services;
    }

    /** From now on, asks the destinations of the adopted migrations again every second. */
    void start(PeerClient client, Migrations running) {
        this.peers = client;
        this.migrations = running;
        retries.scheduleWithFixedDelay(this::retry, RETRY_MILLIS, RETRY_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** One question to the destination; PENDING when it cannot be reached or has not decided. */
    CommitOutcome ask(MigrationJournal.Entry e) {
        try {
            return peers.session(e.peer()).request(Message.json(MigrationProtocol.OUTCOME, new MigrationProtocol.Id(e.id())),
                askTimeout).bodyAs(MigrationProtocol.Outcome.class).outcome();
        } catch (PeerException unreachable) {
            return CommitOutcome.PENDING;
        }
    }

    /** Asks until the destination says, or {@code wait} has passed (then PENDING). */
    CommitOutcome await(MigrationJournal.Entry e, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        CommitOutcome outcome;
        while ((outcome = ask(e)) == CommitOutcome.PENDING && System.nanoTime() < deadline) {
            Thread.sleep(RETRY_MILLIS);
        }
        return outcome;
    }

    /**
     * Takes over a migration whose outcome is still unknown: its original stays stopped and its
     * journal entry stays until the destination answers; {@code pmig status} shows it meanwhile.
     */
    void adopt(MigrationJournal.Entry e) {
        undecided.put(e.id(), e);
        DaemonLog.warn("migration-undecided", "id", e.id(), "pid", e.pid(), "peer", e.peer(), "detail",
            "kept stopped until " + e.peer() + " says whether its copy runs");
    }

    /** The migrations waiting for their destination's answer. */
    List<MigrationJournal.Entry> list() {
        return List.copyOf(undecided.values());
    }

    private void retry() {
        for (MigrationJournal.Entry e : undecided.values()) {
            try {
                CommitOutcome outcome = ask(e);
                if (outcome != CommitOutcome.PENDING) {
                    settle(e, outcome);
                    undecided.remove(e.id());
                    migrations.end(e.id());
                }
            } catch (RuntimeException ex) {
                DaemonLog.warn("migration-outcome-failed", "id", e.id(), "detail", ex.getMessage());
            }
        }
    }

    /**
     * A source's migration ends as the destination decided: the original dies (the copy runs) or
     * runs on (no copy runs); the VIP and the registry entry go with the service; the journal forgets it.
     */
    void settle(MigrationJournal.Entry e, CommitOutcome outcome) {
        boolean copyRuns = outcome == CommitOutcome.COMMITTED;
        int connections = 0;
        if (Files.isDirectory(Path.of("/proc", Integer.toString(e.pid())))) {
            if (copyRuns) {
                ProcessHandle.of(e.pid()).ifPresent(ProcessHandle::destroyForcibly);
            } else {
                connections = CheckpointEngine.recoverAbandoned(e.pid());
            }
        }
        if (e.vip() != null) {
            vips.get().recover(MigrationService.address(e.vip()), e.prefix(), !copyRuns);
        }
        if (copyRuns && e.service() != null) {
            services.remove(e.service());     // it runs there now, and its entry with it
        }
        journal.remove(e.id());
        DaemonLog.warn("migration-settled", "id", e.id(), "pid", e.pid(), "peer", e.peer(), "outcome", outcome,
            "connectionsOutOfRepair", connections);
    }

    @Override
    public void close() {
        retries.shutdownNow();
    }
}
