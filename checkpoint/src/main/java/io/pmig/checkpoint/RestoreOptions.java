package io.pmig.checkpoint;

/**
 * How to restore: {@code newPidNamespace} restores into a fresh PID namespace with the same numbers;
 * {@code beforeSocketsGoLive} runs between "TCP connections rebuilt in repair mode" and "live".
 */
public record RestoreOptions(boolean newPidNamespace, BeforeSocketsGoLive beforeSocketsGoLive) {
    public RestoreOptions(boolean newPidNamespace) {
        this(newPidNamespace, BeforeSocketsGoLive.NOTHING);
    }

    public static RestoreOptions defaults() {
        return new RestoreOptions(false);
    }

    public RestoreOptions withBeforeSocketsGoLive(BeforeSocketsGoLive hook) {
        return new RestoreOptions(newPidNamespace, hook);
    }
}
