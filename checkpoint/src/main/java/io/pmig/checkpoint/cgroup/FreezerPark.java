package io.pmig.checkpoint.cgroup;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where a checkpointed process waits, stopped, for the migration's outcome: a cgroup of pmig's own in the v2 hierarchy,
 * frozen by the v2 freezer ({@code cgroup.freeze}, Documentation/admin-guide/cgroup-v2.rst). Unlike a group stop
 * (SIGSTOP), a frozen process is no news to its parent: a shell or an nsenter waiting for it does not stop with it. It
 * stays frozen whatever becomes of the daemon. Leaving the park puts it back into the cgroup it came from, which thaws it.
 *
 * <p>The cgroup's name records the process and the cgroup it came from ({@code pmig/park-PID@ORIGIN}, ORIGIN
 * URL-encoded), so a daemon restarted after a crash finds both in the hierarchy itself.
 */
public final class FreezerPark {
    private static final String PREFIX = "park-";
    private static final long GONE_WAIT_MILLIS = 5_000;
    /** The longest name of a directory, the cgroup's (include/uapi/linux/limits.h). */
    private static final int NAME_MAX = 255;
    /** How often {@link #keptQuick} moves the engine into its own cgroup again: well within a grace period. */
    private static final long KEEP_QUICK_EVERY_MILLIS = 2;
    /**
     * The longest {@link #keptQuick} keeps at it: the park begins within milliseconds of the freeze, and each move holds
     * off forks and exits on the whole host for its microseconds (a bundle's freeze lasts as long as its transfer).
     */
    private static final long KEEP_QUICK_AT_MOST_MILLIS = 1000;

    private final int pid;
    private final Path cgroup;
    private final Path origin;

    private FreezerPark(int pid, Path cgroup, Path origin) {
        this.pid = pid;
        this.cgroup = cgroup;
        this.origin = origin;
    }

    /**
     * Moves process {@code pid} into a new park cgroup, frozen already or ({@code frozen} false) to be frozen by
     * {@link #freeze} later. Empty when this host has no v2 hierarchy with a freezer (before Linux 5.2), for the caller
     * to stop it the old way. Call it while the process cannot run (seized by ptrace): it is frozen before it runs again.
     */
    public static Optional<FreezerPark> enter(int pid, boolean frozen) {
        Optional<Path> root = ServiceCgroup.unifiedRoot();
        if (root.isEmpty()) {
            return Optional.empty();
        }
        String originPath = v2PathOf(pid);
        String name = PREFIX + pid + "@" + URLEncoder.encode(originPath, StandardCharsets.UTF_8);
        if (name.length() > NAME_MAX) {
            return Optional.empty();
        }
        Path cgroup = root.get().resolve(ServiceCgroup.PMIG).resolve(name);
        try {
            Files.createDirectories(cgroup.getParent());
            if (!Files.exists(cgroup.getParent().resolve("cgroup.freeze"))) {
                return Optional.empty();                    // no freezer before Linux 5.2
            }
            // frozen before the process moves in: it never runs there
            ServiceCgroup.createWith(cgroup, Map.of("cgroup.freeze", frozen ? "1" : "0"), List.of(pid));
        } catch (IOException e) {
            removeQuietly(cgroup);
            throw new FailedException("cannot park process " + pid + " in cgroup " + cgroup + ": " + e.getMessage(), e);
        }
        return Optional.of(new FreezerPark(pid, cgroup, root.get().resolve(originPath.substring(1))));
    }

    /** What {@link #keptQuick} returns: closing it stops the thread that keeps {@link #enter} quick. */
    public interface QuickEntry extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Keeps {@link #enter} quick until closed, at the cost of one RCU grace period now, on the calling thread: moving a
     * process between cgroups takes cgroup_threadgroup_rwsem for writing, whose first writer after a quiet spell waits for
     * a grace period (8-16 ms measured here), and a writer within about a grace period of the last one does not (0.1-0.2
     * ms). So the engine moves itself into the cgroup it is in already (which changes nothing) now, and again every few
     * milliseconds on a thread of its own until closed (or for a second at most): the park that follows a freeze, inside
     * the frozen window, then waits for no grace period however long the way to the freeze. Best effort: a host without
     * a v2 hierarchy, or a refusal, leaves the park to wait as before.
     */
    public static QuickEntry keptQuick() {
        return keptQuick(true);
    }

    /**
     * {@link #keptQuick()} with its grace period paid on the keeper's thread, not the caller's: a checkpoint begins it
     * before its pre-flight, which the grace period then overlaps (a park that comes sooner waits only for what is left
     * of it).
     */
    public static QuickEntry keptQuickSoon() {
        return keptQuick(false);
    }

    private static QuickEntry keptQuick(boolean payNow) {
        Optional<Path> root = ServiceCgroup.unifiedRoot();
        if (root.isEmpty()) {
            return () -> { };
        }
        String self = Long.toString(ProcessHandle.current().pid());
        Path procs;
        try {
            procs = root.get().resolve(v2PathOf((int) ProcessHandle.current().pid()).substring(1)).resolve("cgroup.procs");
            if (payNow) {
                write(procs, self);
            }
        } catch (IOException | RuntimeException e) {
            return () -> { };                               // the park waits for its grace period, as it would have
        }
        long until = System.nanoTime() + KEEP_QUICK_AT_MOST_MILLIS * 1_000_000L;
        Thread keeper = new Thread(() -> {
            try {
                if (!payNow) {
                    write(procs, self);
                }
                while (!Thread.currentThread().isInterrupted() && System.nanoTime() < until) {
                    Thread.sleep(KEEP_QUICK_EVERY_MILLIS);
                    write(procs, self);
                }
            } catch (InterruptedException | IOException e) {
                // closed, or the hierarchy refuses: the park waits as it would have
            }
        }, "pmig-park-kept-quick");
        keeper.setDaemon(true);
        keeper.start();
        return keeper::interrupt;
    }

    /** The park of process {@code pid}, if it is in one (a daemon restarted after a crash looks for it). */
    public static Optional<FreezerPark> of(int pid) {
        Optional<Path> root = ServiceCgroup.unifiedRoot();
        Path parent = root.map(r -> r.resolve(ServiceCgroup.PMIG)).orElse(null);
        if (parent == null || !Files.isDirectory(parent)) {
            return Optional.empty();
        }
        try (DirectoryStream<Path> parks = Files.newDirectoryStream(parent, PREFIX + pid + "@*")) {
            for (Path cgroup : parks) {
                String origin = originOf("/" + ServiceCgroup.PMIG + "/" + cgroup.getFileName());
                return Optional.of(new FreezerPark(pid, cgroup, root.get().resolve(origin.substring(1))));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot look for a park in " + parent, e);
        }
        return Optional.empty();
    }

    /** Whether {@code cgroup} is the park of a process that still exists (left alone by sweeps of empty pmig cgroups). */
    static boolean isInUse(Path cgroup) {
        String name = cgroup.getFileName().toString();
        int at = name.indexOf('@');
        if (!name.startsWith(PREFIX) || at < 0) {
            return false;
        }
        try {
            return Files.isDirectory(Path.of("/proc", Integer.toString(Integer.parseInt(name.substring(PREFIX.length(), at)))));
        } catch (NumberFormatException notOurs) {
            return false;
        }
    }

    /**
     * Freezes the park: a thread of its process stopped by ptrace meets the freeze once detached, before any
     * instruction of its own. Writing the flag is quick; moving a process between cgroups ({@link #enter}) is what waits
     * for an RCU grace period.
     */
    public void freeze() {
        try {
            write(cgroup.resolve("cgroup.freeze"), "1");
        } catch (IOException e) {
            throw new FailedException("cannot freeze cgroup " + cgroup + " with process " + pid + " in it: " + e.getMessage(), e);
        }
    }

    /** Puts the process back into the cgroup it came from, where it runs on, and removes the park. */
    public void leave() {
        try {
            write(origin.resolve("cgroup.procs"), Integer.toString(pid));
        } catch (IOException e) {
            if (new ProcFs(pid).exists()) {
                throw new FailedException("cannot put process " + pid + " back into cgroup " + origin + ": " + e.getMessage()
                    + "; it stays frozen in " + cgroup + " (echo 0 > " + cgroup.resolve("cgroup.freeze") + " lets it run)", e);
            }
        }
        removeQuietly(cgroup);
    }

    /** Removes the park once the process in it is gone (killed). */
    public void removeEmpty() {
        long deadline = System.nanoTime() + GONE_WAIT_MILLIS * 1_000_000L;
        while (read(cgroup.resolve("cgroup.events")).contains("populated 1") && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        removeQuietly(cgroup);
    }

    /**
     * The cgroup v2 path a process parked at {@code v2Path} came from, read from the park's name; {@code v2Path} itself if
     * it is no park. What a process's cgroup says of it (its limits) is that cgroup's, not the park's.
     */
    public static String originOf(String v2Path) {
        String parks = "/" + ServiceCgroup.PMIG + "/" + PREFIX;
        int at = v2Path.indexOf('@');
        if (!v2Path.startsWith(parks) || at < 0 || v2Path.indexOf('/', parks.length()) >= 0) {
            return v2Path;
        }
        return URLDecoder.decode(v2Path.substring(at + 1), StandardCharsets.UTF_8);
    }

    private static String v2PathOf(int pid) {
        for (String line : new ProcFs(pid).read("cgroup").split("\n")) {
            if (line.startsWith("0::")) {
                return line.substring(3);
            }
        }
        throw new FailedException("process " + pid + " has no cgroup v2 path in /proc/" + pid + "/cgroup");
    }

    private static void write(Path file, String value) throws IOException {
        Files.writeString(file, value, StandardCharsets.US_ASCII);
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            return "";                                      // removed meanwhile: nothing is parked there
        }
    }

    private static void removeQuietly(Path cgroup) {
        try {
            Files.deleteIfExists(cgroup);
        } catch (IOException busy) {
            // still populated: ServiceCgroup's sweep of empty pmig cgroups removes it later
        }
    }
}
