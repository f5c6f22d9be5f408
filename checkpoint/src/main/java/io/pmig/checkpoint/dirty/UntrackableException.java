package io.pmig.checkpoint.dirty;

import io.pmig.checkpoint.RefusedException;

/**
 * The writes of a process cannot be tracked, by this kernel or in that process (a seccomp filter, no
 * descriptor left): pre-copy is impossible, a bundle (frozen, all at once) checkpoint still works.
 */
public final class UntrackableException extends RefusedException {
    public UntrackableException(String message) {
        super(message);
    }
}
