package io.pmig.checkpoint;

/**
 * A refusal that time may lift: the process holds something transient that it clears by itself
 * when let run a moment (connections waiting in a listener's accept queue while new ones are
 * held off). The checkpoint thaws the process, waits briefly and tries again before refusing.
 */
public class UnsettledException extends RefusedException {
    public UnsettledException(String message) {
        super(message);
    }
}
