package io.pmig.checkpoint;

/** How to restore: {@code newPidNamespace} restores into a fresh PID namespace with the same numbers. */
public record RestoreOptions(boolean newPidNamespace) {
    public static RestoreOptions defaults() {
        return new RestoreOptions(false);
    }
}
