package io.pmig.checkpoint.cgroup;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The control group a restored service runs in: one of its own, {@code pmig/<name>}, in the cgroup v2
 * hierarchy (at /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host) and, where systemd tracks
 * services in the v1 named hierarchy (/sys/fs/cgroup/systemd, hybrid and legacy hosts), there too. Never
 * the restoring process's own: a restore run by pmigd would otherwise put the service into
 * pmigd.service, and systemd would stop it with the daemon (or kill it on a restart).
 *
 * <p>The limits of the source's v2 cgroup ({@link #LIMITS}) travel in the image and are written into the
 * new one; a limit that is not "max" and whose controller this host does not give the pmig subtree is
 * refused before the process is created, so a service never runs here without a limit it had.
 */
public final class ServiceCgroup {
    /** The interface files (Documentation/admin-guide/cgroup-v2.rst) whose values move with a service: controller, default. */
    private record Limit(String controller, String unset) {
    }

    private static final Map<String, Limit> LIMITS = Map.of(
        "memory.max", new Limit("memory", "max"), "memory.high", new Limit("memory", "max"),
        "memory.low", new Limit("memory", "0"), "memory.min", new Limit("memory", "0"),
        "memory.swap.max", new Limit("memory", "max"), "cpu.max", new Limit("cpu", "max 100000"),
        "cpu.weight", new Limit("cpu", "100"), "pids.max", new Limit("pids", "max"));
    static final String PMIG = "pmig";
    /** How often a new cgroup is made again after another restore's sweep removed it while still empty. */
    private static final int SWEPT_ATTEMPTS = 5;
    private static final Path SYS_FS_CGROUP = Path.of("/sys/fs/cgroup");

    private final List<Path> leaves;

    private ServiceCgroup(List<Path> leaves) {
        this.leaves = leaves;
    }

    /** The v2 hierarchy's mount point (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host), if this host has one. */
    public static Optional<Path> unifiedRoot() {
        for (Path root : List.of(SYS_FS_CGROUP, SYS_FS_CGROUP.resolve("unified"))) {
            if (Files.isRegularFile(root.resolve("cgroup.controllers"))) {
                return Optional.of(root);
            }
        }
        return Optional.empty();
    }

    /** The v1 hierarchy systemd tracks units in on a hybrid or legacy host. */
    private static Optional<Path> systemdV1Root() {
        Path root = SYS_FS_CGROUP.resolve("systemd");
        return Files.isRegularFile(root.resolve("cgroup.procs")) && !Files.exists(root.resolve("cgroup.controllers"))
            ? Optional.of(root) : Optional.empty();
    }

    /** The limits of process {@code pid}'s v2 cgroup that are set (not "max", not absent), file name to value. */
    public static Map<String, String> limitsOf(int pid) {
        Map<String, String> out = new LinkedHashMap<>();
        Optional<Path> root = unifiedRoot();
        if (root.isEmpty()) {
            return out;
        }
        String path = null;
        for (String line : new ProcFs(pid).read("cgroup").split("\n")) {
            if (line.startsWith("0::")) {
                path = line.substring(3);
            }
        }
        if (path == null) {
            return out;
        }
        // a checkpoint reads them once the process is parked (frozen in a cgroup of pmig's, whose limits are none)
        Path dir = root.get().resolve(FreezerPark.originOf(path).substring(1));
        // a controller's interface files exist only in a cgroup it is enabled for: the others' are not looked for
        List<String> controllers;
        try {
            controllers = List.of(Files.readString(dir.resolve("cgroup.controllers"), StandardCharsets.US_ASCII).strip().split(" "));
        } catch (IOException gone) {
            return out;
        }
        for (Map.Entry<String, Limit> limit : LIMITS.entrySet()) {
            if (!controllers.contains(limit.getValue().controller())) {
                continue;
            }
            try {
                String value = Files.readString(dir.resolve(limit.getKey()), StandardCharsets.US_ASCII).strip();
                if (!value.equals(limit.getValue().unset())) {
                    out.put(limit.getKey(), value);
                }
            } catch (IOException absent) {
                // the controller is not enabled there: no such limit
            }
        }
        return out;
    }

    /**
     * Refuses, naming the limit and the remedy, if a cgroup made here could not hold every one of {@code limits}:
     * its controller is not available to the pmig subtree of this host's v2 hierarchy.
     */
    public static void requireApplicable(Map<String, String> limits) {
        if (limits.isEmpty()) {
            return;
        }
        Optional<Path> root = unifiedRoot();
        List<String> available = root.map(r -> List.of(read(r.resolve("cgroup.controllers")).split(" "))).orElse(List.of());
        for (Map.Entry<String, String> limit : limits.entrySet()) {
            String controller = LIMITS.containsKey(limit.getKey()) ? LIMITS.get(limit.getKey()).controller() : "such";
            if (!available.contains(controller)) {
                throw new RefusedException("the service's cgroup limits " + limit.getKey() + " to " + limit.getValue() + ", and this host's"
                    + " cgroup v2 hierarchy " + root.map(Path::toString).orElse("(none)") + " has no " + controller + " controller to"
                    + " hold it; enable it (cgroup_no_v1=all or systemd.unified_cgroup_hierarchy=1) or lift the limit at the source");
            }
        }
    }

    /**
     * Moves {@code pids} (in that order: a namespace's init before its process) into a new cgroup {@code pmig/<name>} of
     * every hierarchy this host has for it, after removing the empty ones earlier services left. Nothing is done on a host
     * with neither hierarchy.
     */
    public static ServiceCgroup place(String name, List<Integer> pids) {
        ServiceCgroup cgroup = make(name);
        cgroup.enter(pids, null);
        return cgroup;
    }

    /**
     * Makes a new, empty cgroup {@code pmig/<name>} in every hierarchy this host has for it, after removing the empty ones
     * earlier services left: a process is born into the v2 one ({@link #unifiedLeaf}, clone3's CLONE_INTO_CGROUP) and
     * {@link #enter}s the others. Moving a process between cgroups waits for an RCU grace period (the kernel's
     * cgroup_threadgroup_rwsem taken for writing), 5-30 ms; a process born into one does not.
     */
    public static ServiceCgroup make(String name) {
        List<Path> leaves = new ArrayList<>();
        for (Path root : hierarchies()) {
            Path parent = root.resolve(PMIG);
            try {
                Files.createDirectories(parent);
                removeEmptyLeaves(parent);
                Path leaf = parent.resolve(name);
                createWith(leaf, Map.of(), List.of());
                leaves.add(leaf);
            } catch (IOException e) {
                throw new FailedException("cannot make cgroup " + parent.resolve(name) + " for the restored process: " + e.getMessage(), e);
            }
        }
        return new ServiceCgroup(leaves);
    }

    /** The cgroup in the v2 hierarchy, if this host has one. */
    public Optional<Path> unifiedLeaf() {
        Optional<Path> root = unifiedRoot();
        return leaves.stream().filter(l -> root.isPresent() && l.startsWith(root.get())).findFirst();
    }

    /**
     * Moves {@code pids} (in that order: a namespace's init before its process) into this cgroup, in every hierarchy but
     * the one of {@code bornInto}, the cgroup they were created in (null: none). A cgroup swept by another restore while
     * still empty is made again.
     */
    public void enter(List<Integer> pids, Path bornInto) {
        for (Path leaf : leaves) {
            if (leaf.equals(bornInto)) {
                continue;
            }
            try {
                createWith(leaf, Map.of(), pids);
            } catch (IOException e) {
                throw new FailedException("cannot put the restored process into cgroup " + leaf + ": " + e.getMessage(), e);
            }
        }
    }

    /** Writes {@code limits} into the v2 cgroup, enabling their controllers on the way down from the pmig subtree. */
    public void apply(Map<String, String> limits) {
        Optional<Path> root = unifiedRoot();
        if (limits.isEmpty() || root.isEmpty()) {
            return;
        }
        Path leaf = unifiedLeaf().orElseThrow();
        try {
            for (String controller : limits.keySet().stream().map(file -> LIMITS.get(file).controller()).distinct().toList()) {
                Files.writeString(root.get().resolve("cgroup.subtree_control"), "+" + controller, StandardCharsets.US_ASCII);
                Files.writeString(leaf.getParent().resolve("cgroup.subtree_control"), "+" + controller, StandardCharsets.US_ASCII);
            }
            for (Map.Entry<String, String> limit : limits.entrySet()) {
                Files.writeString(leaf.resolve(limit.getKey()), limit.getValue(), StandardCharsets.US_ASCII);
            }
        } catch (IOException e) {
            throw new FailedException("cannot give cgroup " + leaf + " the service's limits " + limits + ": " + e.getMessage(), e);
        }
    }

    /** The cgroups the process is in, one per hierarchy. */
    public List<Path> leaves() {
        return leaves;
    }

    private static List<Path> hierarchies() {
        List<Path> out = new ArrayList<>();
        unifiedRoot().ifPresent(out::add);
        systemdV1Root().ifPresent(out::add);
        return out;
    }

    /** rmdir of every empty cgroup below {@code parent}: a cgroup with a process in it refuses (EBUSY) and stays. */
    /**
     * Creates cgroup {@code leaf}, writes {@code settings} (interface file to value) into it, and moves {@code pids} into it.
     * Another restore's sweep of empty pmig cgroups may remove the new cgroup before the first process is in: then it is
     * made again.
     */
    static void createWith(Path leaf, Map<String, String> settings, List<Integer> pids) throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                Files.createDirectories(leaf);
                for (Map.Entry<String, String> setting : settings.entrySet()) {
                    Files.writeString(leaf.resolve(setting.getKey()), setting.getValue(), StandardCharsets.US_ASCII);
                }
                for (int pid : pids) {
                    Files.writeString(leaf.resolve("cgroup.procs"), Integer.toString(pid), StandardCharsets.US_ASCII);
                }
                return;
            } catch (IOException e) {
                // ENOENT: gone before the write; ENODEV: removed while it was open (the write's own plain IOException)
                String reason = e instanceof FileSystemException f ? f.getReason() : e.getMessage();
                boolean swept = e instanceof NoSuchFileException || "No such device".equals(reason);
                if (!swept || attempt == SWEPT_ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    private static void removeEmptyLeaves(Path parent) throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(parent, Files::isDirectory)) {
            for (Path leaf : entries) {
                if (FreezerPark.isInUse(leaf)) {
                    continue;                               // a checkpoint's park, its process about to move in
                }
                try {
                    if (read(leaf.resolve("cgroup.procs")).isEmpty()) {
                        Files.delete(leaf);
                    }
                } catch (FileSystemException | UncheckedIOException busy) {
                    // a process moved in meanwhile, or another restore's: it stays
                }
            }
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
