package io.pmig.daemon.migration;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a daemon must know to put things straight if it dies in the middle of a migration: one
 * small file per migration in progress (ID.json, written whole and renamed into place), removed
 * when the migration ends. A daemon that starts reads what is left (see {@link MigrationService}).
 */
final class MigrationJournal {
    /**
     * {@code phase}: for a source "prepared" (the VIP and the process are still this node's),
     * "committing" (the destination was told to run the process; the original dies with this
     * daemon); for a destination "prepared" (the VIP was taken silently; the copy dies with this
     * daemon), "committed" (the copy was told to run; it runs if its pid lives: {@code pid} is then the copy's, as this
     * host numbers it), "postcopy" (so told, with pages still at the source: a restarted daemon kills it, and answers
     * that it ran). {@code peer} is
     * the other node; {@code service} the name the process is registered by (it moves with it), or null.
     */
    record Entry(String id, String role, String peer, int pid, String vip, int prefix, String phase, String service) {
        Entry at(String next) {
            return new Entry(id, role, peer, pid, vip, prefix, next, service);
        }
    }

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private final Path dir;

    MigrationJournal(Path dir) {
        this.dir = dir;
    }

    /** Writes the entry whole or not at all: on a failure (a full file system) no partial file stays behind. */
    void write(Entry e) {
        Path partial = dir.resolve(e.id() + ".json.partial");
        try {
            Files.createDirectories(dir);
            Files.write(partial, MAPPER.writeValueAsBytes(e));
            Files.move(partial, dir.resolve(e.id() + ".json"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException ex) {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException notThereOrStuck) {
                // unfinished() reads only whole entries, so a partial file that stays harms nothing
            }
            throw new UncheckedIOException("cannot write the migration journal in " + dir + " (" + ex.getMessage()
                + "): make room on that file system (or make the directory writable)", ex);
        }
    }

    void remove(String id) {
        try {
            Files.deleteIfExists(dir.resolve(id + ".json"));
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot remove " + id + " from the migration journal " + dir + ": " + ex.getMessage(), ex);
        }
    }

    /** The migrations a previous daemon left unfinished. */
    List<Entry> unfinished() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Entry> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList()) {
                out.add(MAPPER.readValue(f.toFile(), Entry.class));
            }
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot read the migration journal " + dir + ": " + ex.getMessage(), ex);
        }
        return out;
    }
}
