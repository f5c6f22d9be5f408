package io.pmig.checkpoint;

import java.util.ArrayList;
import java.util.List;

/** Records {@link StepTimes} as a run goes: each {@link #lap} ends a step begun at the previous one. */
final class StepTimer {
    private final List<StepTimes.Step> steps = new ArrayList<>();
    private final long start = System.nanoTime();
    private long last = start;

    /** Ends step {@code name}, which began at the previous lap (or when this timer was made). */
    void lap(String name) {
        long now = System.nanoTime();
        steps.add(new StepTimes.Step(name, now - last));
        last = now;
    }

    /** When this timer was made (System.nanoTime). */
    long startedAt() {
        return start;
    }

    StepTimes times() {
        return new StepTimes(steps);
    }
}
