package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.nativeio.Linux;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Descriptors this process holds while a restore builds the files; objects with two ends
 * (a pipe, a socket pair) are created once and shared by both ends' states.
 */
public final class RestoreContext implements AutoCloseable {
    private final Map<String, int[]> shared = new HashMap<>();
    private final List<Integer> held = new ArrayList<>();
    private final java.util.Set<String> done = new java.util.HashSet<>();

    /** The pair known as {@code key}, created by {@code create} the first time. */
    public int[] pair(String key, Supplier<int[]> create) {
        return shared.computeIfAbsent(key, k -> {
            int[] fds = create.get();
            for (int fd : fds) {
                hold(fd);
            }
            return fds;
        });
    }

    /** True the first time it is asked about {@code key}: for work done once per shared object. */
    public boolean once(String key) {
        return done.add(key);
    }

    /** Keeps {@code fd} open until the restore has installed its copies, then closes it. */
    public int hold(int fd) {
        held.add(fd);
        return fd;
    }

    @Override
    public void close() {
        for (int fd : held) {
            Linux.close(fd);
        }
        held.clear();
    }
}
