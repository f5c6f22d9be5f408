package io.pmig.daemon.control;

/** A control request refused before anything was touched (pmig exits 3); the message names the resource and the remedy. */
public final class ControlRefusedException extends RuntimeException {
    public ControlRefusedException(String message) {
        super(message);
    }
}
