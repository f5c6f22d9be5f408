package io.pmig.checkpoint;

import java.util.ArrayList;
import java.util.List;

/** Records {@link StepTimes} as a run goes: each {@link #lap} ends a step begun at the previous one. */
final class StepTimer {
    private final List<StepTimes.Step> steps = new ArrayList<>();
    private final long start = System.nanoTime();
    private long last = start;

    /**
     * Ends step {@code name}, which began at the previous lap (or when this timer was made). A step that comes again
     * (once for each process of a tree) adds to its first time, where it was first taken.
     */
    void lap(String name) {
        lapUntil(name, System.nanoTime());
    }

    /** {@link #lap} of a step that ended at {@code now} (System.nanoTime), not later than now. */
    void lapUntil(String name, long now) {
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i).name().equals(name)) {
                steps.set(i, new StepTimes.Step(name, steps.get(i).nanos() + now - last));
                last = now;
                return;
            }
        }
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
