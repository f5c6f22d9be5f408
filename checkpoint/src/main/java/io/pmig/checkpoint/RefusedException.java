package io.pmig.checkpoint;

/**
 * The engine refused before it touched anything: the process runs on unchanged and no process
 * was created. The message names the resource and, where there is one, the remedy.
 */
public class RefusedException extends RuntimeException {
    public RefusedException(String message) {
        super(message);
    }

    public RefusedException(String message, Throwable cause) {
        super(message, cause);
    }
}
