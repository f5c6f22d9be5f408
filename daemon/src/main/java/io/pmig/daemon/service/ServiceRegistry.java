package io.pmig.daemon.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.daemon.log.DaemonLog;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The services this node runs: one file NAME.json each under {@code STATE/services} (owner-only,
 * written whole and renamed into place), read again when the daemon starts. A file that cannot be
 * read is reported by name (log and {@link #problems()}) and left alone for the operator.
 */
public final class ServiceRegistry {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String SUFFIX = ".json";

    private final Path dir;
    private final Map<String, Service> services = new TreeMap<>();
    private final List<String> problems = new ArrayList<>();

    private ServiceRegistry(Path dir) {
        this.dir = dir;
    }

    /** The registry kept in {@code dir}, with what an earlier daemon left there. */
    public static ServiceRegistry open(Path dir) {
        ServiceRegistry registry = new ServiceRegistry(dir);
        registry.load();
        return registry;
    }

    private void load() {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(SUFFIX)).sorted().toList()) {
                try {
                    Service s = MAPPER.readValue(f.toFile(), Service.class);
                    Service.requireValidName(s.name());
                    if (!f.getFileName().toString().equals(s.name() + SUFFIX)) {
                        throw new IOException("it names service " + s.name());
                    }
                    services.put(s.name(), s);
                } catch (IOException | RuntimeException e) {
                    String problem = "service registry file " + f + " cannot be read (" + e.getMessage().lines().findFirst().orElse("")
                        + "); its service is not listed: repair the file, or remove it and add the service again";
                    problems.add(problem);
                    DaemonLog.warn("service-registry-unreadable", "file", f, "detail", problem);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the service registry " + dir + ": " + e.getMessage(), e);
        }
    }

    public synchronized List<Service> list() {
        return List.copyOf(services.values());
    }

    /** Files found unreadable at start, each named with the remedy. */
    public synchronized List<String> problems() {
        return List.copyOf(problems);
    }

    public synchronized Optional<Service> get(String name) {
        return Optional.ofNullable(services.get(name));
    }

    /** The service whose process is {@code pid} here, if one is registered by it. */
    public synchronized Optional<Service> byPid(int pid) {
        return services.values().stream().filter(s -> s.pid() == pid && s.matchesItsProcess()).findFirst();
    }

    /** Adds a new entry; refuses a name this node has already. */
    public synchronized void add(Service s) {
        if (services.containsKey(s.name())) {
            throw new ControlRefusedException("a service named " + s.name() + " is registered here already (process "
                + services.get(s.name()).pid() + "); pmig service remove " + s.name() + " first, or choose another name");
        }
        put(s);
    }

    /** Adds or replaces the entry, on disk first. */
    public synchronized void put(Service s) {
        Path partial = dir.resolve(s.name() + SUFFIX + ".partial");
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            Files.deleteIfExists(partial);
            Files.createFile(partial, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.write(partial, MAPPER.writeValueAsBytes(s));
            Files.move(partial, dir.resolve(s.name() + SUFFIX), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException stuck) {
                // a partial file is never read (load takes NAME.json only)
            }
            throw new ControlRefusedException("cannot write service " + s.name() + " into the registry " + dir + " ("
                + e.getMessage() + "): make room on that file system (or make the directory writable)");
        }
        services.put(s.name(), s);
    }

    /** Forgets the entry (it moved away, or the operator removed it); returns it. */
    public synchronized Optional<Service> remove(String name) {
        try {
            Files.deleteIfExists(dir.resolve(name + SUFFIX));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove service " + name + " from the registry " + dir + ": " + e.getMessage(), e);
        }
        return Optional.ofNullable(services.remove(name));
    }
}
