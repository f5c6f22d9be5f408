package io.pmig.daemon.migration;

import io.pmig.checkpoint.StepTimes;
import io.pmig.daemon.service.Service;
import java.util.List;

/**
 * The peer messages of a migration, source to destination unless said otherwise. Every body names
 * the migration's id. The image itself is a stream of type {@link #IMAGE}.
 */
final class MigrationProtocol {
    /** Pre-flight: may the destination take this process and its VIP? Answered by {@link Prepared}. */
    static final String PREPARE = "migrate.prepare";
    /** The image stream; the destination answers once the process is restored (stopped, sockets live). */
    static final String IMAGE = "migrate.image";
    /** Destination to source, from the restore's hook: give the VIP up and send what you held. */
    static final String SWITCH = "migrate.switch";
    /**
     * Source to destination before the freeze of a staged migration (body: {@link Rounds}): answered once the
     * destination has applied that many rounds. The stream's window lets the source run megabytes ahead of the
     * restore; frozen before the restore catches up, that backlog would be applied inside the downtime.
     */
    static final String CAUGHT_UP = "migrate.caught-up";
    /** Let the restored process run; answered once it runs. */
    static final String COMMIT = "migrate.commit";
    /** Packets the source still got from stale caches (body: held packets); answered "done" once every announcement is out. */
    static final String LATE = "migrate.late";
    /** Discard everything; answered with what the destination held (held packets). */
    static final String ABORT = "migrate.abort";
    /** During a rollback: what the destination held since (held packets); {@code end} stops its hold. */
    static final String FORWARD = "migrate.forward";
    /**
     * The source lost the answer to {@link #COMMIT} (or restarted after sending it): does the copy
     * run? Answered by {@link Outcome}, on any session, as long as the destination remembers.
     */
    static final String OUTCOME = "migrate.outcome";

    /**
     * In a staged migration's image stream, before each image: another pre-copy round follows, or
     * the last part (frozen). A bundle migration's stream is one image with no marker.
     */
    static final int ROUND_FOLLOWS = 'R';
    static final int LAST_PART_FOLLOWS = 'L';
    /**
     * The last part follows and leaves the process's hot pages at the source (post-copy): before it the source opens
     * {@link #PAGES}, and the destination opens {@link #PAGE_REQUESTS} and waits for {@link #PAGES} before reading on.
     */
    static final int LAST_PART_POSTCOPY_FOLLOWS = 'P';
    /**
     * Source to destination after {@link #LAST_PART_POSTCOPY_FOLLOWS}: the pages left behind (checkpoint-engine.md,
     * "Post-copy"), served from the frozen original until the destination has them all; answered with the destination's
     * PostcopyReport then, or a failure (the copy was killed).
     */
    static final String PAGES = "migrate.pages";
    /** Destination to source: the copy's page requests, then the end once every page is in place; answered with the source's PostcopyReport. */
    static final String PAGE_REQUESTS = "migrate.page-requests";

    /**
     * Sent with {@link #PREPARE}. {@code vip} is null for a process without one; {@code memoryBytes}
     * is what its restore allocates (see {@link DestinationMemory#imageBytes(int)}); {@code ownPidNamespace}:
     * the process lives in a PID namespace of its own (its {@code tids} are then no concern of the destination's);
     * {@code service}: the process's registry entry, which moves with it (null for a process registered as none);
     * {@code sourcePin}: the VIP its cgroup pins its sockets' source address to (SourceAddress), which the destination
     * pins the copy's cgroup to before it runs, or null; {@code pageCodec}: the codec the image's pages may be compressed
     * with ("zstd"), which the destination refuses to prepare for when it cannot load it, or null when they go raw.
     */
    record Prepare(String id, int pid, List<Integer> tids, String exe, String vip, int prefix, String sourceMac, boolean replay,
                   boolean staged, long memoryBytes, boolean ownPidNamespace, Service service, String sourcePin, String pageCodec) {
    }

    record Prepared(String id, String destinationMac) {
    }

    record Id(String id) {
    }

    /** Answer to {@link #IMAGE} and {@link #COMMIT}. */
    /** {@code steps}: where the restore's time went (the last part's, for a staged migration). */
    /** {@code pidNamespace}: why the copy runs in a PID namespace of its own there, or null when it has its numbers on the host. */
    record Restored(String id, int pid, long restoreNanos, long replayed, StepTimes steps, String pidNamespace) {
    }

    record Rounds(String id, int rounds) {
    }

    record Forward(String id, boolean end) {
    }

    record Outcome(String id, CommitOutcome outcome) {
    }

    private MigrationProtocol() {
    }
}
