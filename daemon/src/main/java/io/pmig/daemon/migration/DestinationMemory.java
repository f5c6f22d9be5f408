package io.pmig.daemon.migration;

import io.pmig.daemon.control.ControlRefusedException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Pre-flight on the destination: can this node give a migrating process the memory its image
 * needs? It can give the least of MemAvailable and the headroom of every memory cgroup with a
 * limit from the daemon's own up to the root (the restorer and the restored process are the
 * daemon's children, so they are charged there), minus {@code limits.memory.reserve.bytes}, which
 * the daemon and the kernel keep for the migration itself. Reads the files under {@code root}
 * ("/" on a node; a directory of sample files in tests).
 */
final class DestinationMemory {
    /** A cgroup version's names for a cgroup's limit, its usage, and the page cache it may drop (memory.stat). */
    private record Hierarchy(Path mount, String limitFile, String usageFile, String inactiveFileStat) {
    }

    /** What this node can give, what bounds it, and how an operator raises it. */
    record Offer(long bytes, String bound, String remedy) {
    }

    private static final long MB = 1 << 20;

    private final Path root;
    private final long reserveBytes;

    DestinationMemory(Path root, long reserveBytes) {
        this.root = root;
        this.reserveBytes = reserveBytes;
    }

    /**
     * What restoring process {@code pid} allocates on its destination: its anonymous and shared
     * memory, resident or swapped out (RssAnon + RssShmem + VmSwap of /proc/PID/status). File pages
     * are left out: they come back from the shared files through page cache the kernel can
     * reclaim. (smaps_rollup would say the same but walks the page tables, status is counters.)
     */
    static long imageBytes(int pid) {
        Path status = Path.of("/proc", Integer.toString(pid), "status");
        try {
            return imageBytes(Files.readString(status));
        } catch (IOException e) {
            throw new ControlRefusedException("cannot read the memory use of process " + pid + " (" + status + "): " + e.getMessage());
        }
    }

    static long imageBytes(String status) {
        return kibField(status, "RssAnon") + kibField(status, "RssShmem") + kibField(status, "VmSwap");
    }

    /** Refuses, naming what bounds this node's memory and the remedy, unless {@code node} can give process {@code pid} its {@code neededBytes}. */
    void require(String node, int pid, long neededBytes) {
        Offer offer = offer();
        if (neededBytes > offer.bytes()) {
            throw new ControlRefusedException(node + " can give " + offer.bytes() / MB + " MB (" + offer.bound()
                + (reserveBytes > 0 ? "; " + reserveBytes / MB + " MB kept in reserve by limits.memory.reserve.bytes" : "")
                + "); process " + pid + " needs " + neededBytes / MB + " MB: " + offer.remedy() + " or migrate to another node");
        }
    }

    /** The tightest bound on what this node can give now. */
    Offer offer() {
        long available = kibField(read(root.resolve("proc/meminfo")).orElse(""), "MemAvailable");
        List<Offer> offers = new ArrayList<>(List.of(new Offer(available, "MemAvailable " + available / MB + " MB",
            "free memory")));
        read(root.resolve("proc/self/cgroup")).ifPresent(self -> self.lines().forEach(line -> cgroupOffers(line, offers)));
        Offer tightest = offers.stream().min(Comparator.comparingLong(Offer::bytes)).orElseThrow();
        return new Offer(Math.max(0, tightest.bytes() - reserveBytes), tightest.bound(), tightest.remedy());
    }

    /** One line of /proc/self/cgroup, "ID:CONTROLLERS:PATH": the headroom of each limited cgroup on the path to its root. */
    private void cgroupOffers(String line, List<Offer> offers) {
        String[] fields = line.split(":", 3);
        if (fields.length < 3) {
            return;
        }
        boolean v1 = Arrays.asList(fields[1].split(",")).contains("memory");
        boolean v2 = fields[0].equals("0") && fields[1].isEmpty();
        Optional<Hierarchy> hierarchy = v1 ? Optional.of(new Hierarchy(root.resolve("sys/fs/cgroup/memory"),
                "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"))
            : v2 ? unifiedMount().map(mount -> new Hierarchy(mount, "memory.max", "memory.current", "inactive_file"))
            : Optional.empty();
        hierarchy.ifPresent(h -> {
            for (Path cgroup = Path.of(fields[2]); cgroup != null; cgroup = cgroup.getParent()) {
                headroom(h, cgroup).ifPresent(offers::add);
            }
        });
    }

    /** cgroup v2 is mounted on /sys/fs/cgroup, or on /sys/fs/cgroup/unified beside v1's controllers (a hybrid host). */
    private Optional<Path> unifiedMount() {
        return List.of("sys/fs/cgroup", "sys/fs/cgroup/unified").stream().map(root::resolve)
            .filter(mount -> Files.exists(mount.resolve("cgroup.controllers"))).findFirst();
    }

    private Optional<Offer> headroom(Hierarchy h, Path cgroup) {
        Path dir = h.mount().resolve(cgroup.toString().substring(1));
        Optional<String> limitText = read(dir.resolve(h.limitFile())).map(String::strip);
        Optional<String> usageText = read(dir.resolve(h.usageFile())).map(String::strip);
        if (limitText.isEmpty() || usageText.isEmpty() || limitText.get().equals("max")) {
            return Optional.empty();
        }
        long limit = Long.parseLong(limitText.get());
        // page cache the kernel drops before it fails an allocation is not counted as used
        long used = Math.max(0, Long.parseLong(usageText.get())
            - field(read(dir.resolve("memory.stat")).orElse(""), h.inactiveFileStat(), 1));
        return Optional.of(new Offer(limit - used, "memory cgroup " + cgroup + ": limit " + limit / MB + " MB, "
            + used / MB + " MB used", "raise that limit"));
    }

    /** A "Name: N kB" field of /proc/meminfo or /proc/PID/status in bytes; 0 if absent (a zombie's status has none). */
    private static long kibField(String text, String name) {
        return field(text, name + ":", 1024);
    }

    /** The number after {@code name} on the line that starts with it, times {@code unit}; 0 if there is none. */
    private static long field(String text, String name, long unit) {
        return text.lines().filter(l -> l.startsWith(name + " ") || l.startsWith(name + "\t")).findFirst()
            .map(l -> Long.parseLong(l.substring(name.length()).strip().split("\\s+")[0]) * unit).orElse(0L);
    }

    private static Optional<String> read(Path file) {
        try {
            return Optional.of(Files.readString(file));
        } catch (IOException absent) {
            return Optional.empty();
        }
    }
}
