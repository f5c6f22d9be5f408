package io.pmig.checkpoint;

/**
 * The engine failed after it had started changing things. The engine has rolled back what it
 * could (a checkpointed process is thawed, a half-restored one is killed); the message says
 * what failed and what state was left.
 */
public class FailedException extends RuntimeException {
    public FailedException(String message) {
        super(message);
    }

    public FailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
