package io.pmig.checkpoint;

/**
 * How to restore: {@code newPidNamespace} restores into a fresh PID namespace with the same numbers;
 * {@code newPidNamespaceIfTaken} does so only when one of the image's ids is in use on this host (a
 * migration: its pids never block a move); {@code beforeSocketsGoLive} runs between "TCP connections
 * rebuilt in repair mode" and "live". An image of a process that lived in a namespace of its own is
 * always restored into a new one.
 */
public record RestoreOptions(boolean newPidNamespace, boolean newPidNamespaceIfTaken, BeforeSocketsGoLive beforeSocketsGoLive) {
    public RestoreOptions(boolean newPidNamespace) {
        this(newPidNamespace, false, BeforeSocketsGoLive.NOTHING);
    }

    public static RestoreOptions defaults() {
        return new RestoreOptions(false);
    }

    public RestoreOptions withBeforeSocketsGoLive(BeforeSocketsGoLive hook) {
        return new RestoreOptions(newPidNamespace, newPidNamespaceIfTaken, hook);
    }

    public RestoreOptions withNewPidNamespaceIfTaken() {
        return new RestoreOptions(newPidNamespace, true, beforeSocketsGoLive);
    }

    /** These options, into a new PID namespace if the image's process lived in one of its own (its numbers are its own there). */
    RestoreOptions withNewPidNamespaceIf(boolean ownPidNamespace) {
        return ownPidNamespace && !newPidNamespace ? new RestoreOptions(true, newPidNamespaceIfTaken, beforeSocketsGoLive) : this;
    }
}
