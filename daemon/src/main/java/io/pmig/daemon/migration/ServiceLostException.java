package io.pmig.daemon.migration;

/**
 * A migration failed after its copy ran (a post-copy lost its source's pages): neither the copy nor the original runs
 * any more. Nothing is rolled back; the message says so.
 */
public final class ServiceLostException extends MigrationFailedException {
    public ServiceLostException(String message, Throwable cause) {
        super(message, cause);
    }
}
