package io.pmig.daemon.migration;

/** A migration failed after it started; the message says where, why, and where the service runs now. */
public class MigrationFailedException extends RuntimeException {
    public MigrationFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
