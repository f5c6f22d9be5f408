package io.pmig.daemon.migration;

/** What a destination did with a migration, as it answers {@link MigrationProtocol#OUTCOME}. */
enum CommitOutcome {
    /** The copy runs on the destination: the source's original must die. */
    COMMITTED,
    /** The destination runs no copy (it discarded it, or never had one): the original must run on. */
    ABORTED,
    /** The destination has not decided yet: ask again. */
    PENDING
}
