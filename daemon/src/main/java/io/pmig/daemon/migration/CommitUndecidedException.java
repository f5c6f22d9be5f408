package io.pmig.daemon.migration;

/**
 * The commit went out and its answer never came back, and the destination could not be asked
 * within limits.outcome.wait.millis: the original stays stopped until it can ({@link CommitOutcomes}).
 */
public final class CommitUndecidedException extends MigrationFailedException {
    public CommitUndecidedException(String message, Throwable cause) {
        super(message, cause);
    }
}
