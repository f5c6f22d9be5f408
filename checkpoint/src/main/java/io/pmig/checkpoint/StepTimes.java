package io.pmig.checkpoint;

import java.util.List;

/**
 * Where the time of a checkpoint or restore went: each step with how long it took, in the order
 * they ran (the frozen part of a checkpoint, the restore up to the process complete and stopped).
 * Steps a run did not need are absent; their sum is the time measured, give or take a clock read.
 */
public record StepTimes(List<Step> steps) {
    /** No breakdown (a report made by hand). */
    public static final StepTimes NONE = new StepTimes(List.of());

    public StepTimes {
        steps = List.copyOf(steps);
    }

    /** One step: a short name ("freeze", "task state", ...) and its duration. */
    public record Step(String name, long nanos) {
    }

    /** The time of step {@code name} (summed if it ran more than once), 0 if it did not run. */
    public long nanos(String name) {
        return steps.stream().filter(s -> s.name().equals(name)).mapToLong(Step::nanos).sum();
    }

    /** The time of every step. */
    public long totalNanos() {
        return steps.stream().mapToLong(Step::nanos).sum();
    }
}
