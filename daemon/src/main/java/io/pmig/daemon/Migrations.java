package io.pmig.daemon;

import io.pmig.daemon.control.ControlRefusedException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The migrations this node takes part in now, as source or destination: what {@code pmig status}
 * lists, and the bound of limits.migrations.
 */
public final class Migrations {
    /** One running migration; {@code phase} is the state machine's current step ("preflight", "transfer", ...). */
    public record Migration(String id, long pid, String role, String peer, String phase, Instant started) {
        public Migration withPhase(String next) {
            return new Migration(id, pid, role, peer, next, started);
        }
    }

    private final int limit;
    private final Map<String, Migration> running = new ConcurrentHashMap<>();

    public Migrations(int limit) {
        this.limit = limit;
    }

    /** Records a migration that starts; refuses when the node already takes part in as many as allowed. */
    public synchronized void begin(Migration migration) {
        if (running.size() >= limit) {
            throw new ControlRefusedException("this node already takes part in " + running.size() + " migration"
                    + (running.size() == 1 ? "" : "s") + " " + running.keySet() + " (limits.migrations = " + limit
                    + "): wait for " + (running.size() == 1 ? "it" : "them") + " to end, or cancel one leaving this node before"
                    + " its commit (pmig migrate --cancel ID)");
        }
        if (running.putIfAbsent(migration.id(), migration) != null) {
            throw new IllegalStateException("migration " + migration.id() + " is already running");
        }
    }

    /** Updates a running migration (its phase). */
    public void update(Migration migration) {
        running.replace(migration.id(), migration);
    }

    public void end(String id) {
        running.remove(id);
    }

    /** The running migrations, oldest first. */
    public List<Migration> list() {
        List<Migration> list = new ArrayList<>(running.values());
        list.sort(Comparator.comparing(Migration::started).thenComparing(Migration::id));
        return list;
    }
}
