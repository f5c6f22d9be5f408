package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * One C test program (checkpoint/src/test/c) and the file protocol it speaks:
 * {@code prog STATEDIR} with stdin /dev/null and stdout+stderr appended to STATEDIR/log; it writes
 * STATEDIR/ready, waits for STATEDIR/go, then writes STATEDIR/result ("PASS" or "FAIL: why") and exits 0.
 *
 * <p>The original runs under {@code setsid --fork --wait}, not as this JVM's child: the engine ptraces
 * it, and the JVM's process reaper waits on its own children, which would take the ptrace stops.
 * setsid also reaps the original the moment a checkpoint kills it, freeing its pid for the restore.
 * A restored instance is detached, so results are awaited by file and exits by polling /proc/PID. {@link #close()} kills (SIGKILL, by pid) every
 * instance this object knew of that still runs and is still ours.
 */
public final class TestProgram implements AutoCloseable {
    /** Programs that hold state and must survive checkpoint/restore. */
    public static final List<String> STATEFUL = List.of("mem", "threads", "signals", "timers", "procstate", "fds",
        "exact_fds", "exact_process", "tcp_states", "tcp_closed", "udp_corked", "raw_sockets", "socket_filters", "unix_relative", "opath_symlink", "pidfds", "ns_files", "fanotify", "epoll_reused", "capabilities", "inotify", "lock_waiters",
        "shared_fd_table");
    /** Programs that must be refused. */
    public static final List<String> UNSUPPORTED = List.of("unsupported_netlink", "unsupported_seccomp",
        "unsupported_lease", "unsupported_deleted_cwd", "unsupported_restart_syscall", "unsupported_epoll_elsewhere",
        "unsupported_epoll_oneshot", "unsupported_udp_corked", "unsupported_unix_relative",
        "unsupported_pidfd_other", "unsupported_ns_other", "unsupported_aio",
        "unsupported_tcp_error");

    public static final Duration READY_TIMEOUT = Duration.ofSeconds(20);
    public static final Duration RESULT_TIMEOUT = Duration.ofSeconds(20);
    public static final Duration EXIT_TIMEOUT = Duration.ofSeconds(10);

    private final String name;
    private final Path exe;
    private final Path stateDir;
    private final Process process;
    private final int pid;
    /** True once the instance at {@link #pid} is a restored one rather than the JVM's child. */
    private boolean restored;
    private final Set<Integer> pids = new LinkedHashSet<>();

    private TestProgram(String name, Path exe, Path stateDir, Process process, int pid) {
        this.name = name;
        this.exe = exe;
        this.stateDir = stateDir;
        this.process = process;
        this.pid = pid;
        pids.add(pid);
    }

    /** Directory of the built programs: system property pmig.testPrograms (set by surefire). */
    public static Path programsDir() {
        String prop = System.getProperty("pmig.testPrograms");
        if (prop != null && !prop.isBlank()) {
            return Paths.get(prop).toAbsolutePath();
        }
        Path fromModule = Paths.get("target", "test-programs");
        if (Files.isDirectory(fromModule)) {
            return fromModule.toAbsolutePath();
        }
        return Paths.get("checkpoint", "target", "test-programs").toAbsolutePath();
    }

    public static TestProgram start(String name, Path stateDir) throws IOException {
        return start(name, stateDir, "");
    }

    /**
     * {@link #start}, the program running with user and group id {@code id} and no other group; its
     * state directory is made writable for it, and the one above it passable.
     */
    public static TestProgram startAs(String name, Path stateDir, int id) throws IOException {
        Files.createDirectories(stateDir);
        Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setPosixFilePermissions(stateDir.getParent(), PosixFilePermissions.fromString("rwx--x--x"));
        return start(name, stateDir, "setpriv --reuid=" + id + " --regid=" + id + " --clear-groups ");
    }

    /**
     * {@link #start}, the program running in a time namespace of its own whose monotonic and boot clocks are ahead of
     * the host's by the given seconds: a process from a host that booted that much earlier.
     */
    public static TestProgram startWithClocksAhead(String name, Path stateDir, long monotonicSeconds, long boottimeSeconds)
            throws IOException {
        return start(name, stateDir, "unshare --time --monotonic " + monotonicSeconds + " --boottime " + boottimeSeconds + " ");
    }

    /** {@link #start} in a namespace of its own of {@code kind} (an option of unshare(1): "uts", "net", "cgroup"). */
    public static TestProgram startInNamespace(String name, Path stateDir, String kind) throws IOException {
        return start(name, stateDir, "unshare --" + kind + " ");
    }

    /** {@link #start}, running the program's binary from {@code exe} (a copy elsewhere). */
    public static TestProgram startCopy(String name, Path exe, Path stateDir) throws IOException {
        return start(name, exe, stateDir, "");
    }

    private static TestProgram start(String name, Path stateDir, String launcher) throws IOException {
        return start(name, programsDir().resolve(name), stateDir, launcher);
    }

    private static TestProgram start(String name, Path exe, Path stateDir, String launcher) throws IOException {
        if (!Files.isExecutable(exe)) {
            fail("test program " + exe + " is not built (make -C checkpoint/src/test/c OUT=...)");
        }
        Files.createDirectories(stateDir);
        Path log = stateDir.resolve("log");
        Path pidFile = stateDir.getParent().resolve(stateDir.getFileName() + ".pid");
        ProcessBuilder pb = new ProcessBuilder("setsid", "--fork", "--wait", "sh", "-c",
                "echo $$ > \"$0\"; exec " + launcher + "\"$1\" \"$2\"", pidFile.toString(), exe.toString(), stateDir.toString())
                .directory(stateDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectErrorStream(true);
        Process setsid = pb.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            String text = Files.exists(pidFile) ? Files.readString(pidFile).trim() : "";
            if (!text.isEmpty()) {
                return new TestProgram(name, exe, stateDir, setsid, Integer.parseInt(text));
            }
            if (System.nanoTime() > deadline || !setsid.isAlive() && !Files.exists(pidFile)) {
                setsid.destroyForcibly();
                fail(name + " did not start under setsid; log:\n" + (Files.exists(log) ? Files.readString(log) : ""));
            }
            sleep(2);
        }
    }

    public String name() {
        return name;
    }

    public int pid() {
        return pid;
    }

    public Path stateDir() {
        return stateDir;
    }

    public Path exe() {
        return exe;
    }

    public Process originalProcess() {
        return process;
    }

    /** From now on the instance at our pid is a restored one (not this JVM's child). */
    public void adoptRestored(int restoredPid) {
        if (restoredPid != pid) {
            pids.add(restoredPid);
            fail(name + ": restored pid " + restoredPid + " differs from the original " + pid);
        }
        restored = true;
    }

    public boolean isRestored() {
        return restored;
    }

    public void awaitReady(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Path ready = stateDir.resolve("ready");
        while (!Files.exists(ready)) {
            if (!restored && !process.isAlive()) {
                fail(name + " exited (" + process.exitValue() + ") before ready; log:\n" + logTail());
            }
            if (System.nanoTime() > deadline) {
                fail(name + " not ready after " + timeout + "; log:\n" + logTail());
            }
            sleep(5);
        }
    }

    public void awaitReady() {
        awaitReady(READY_TIMEOUT);
    }

    public void go() throws IOException {
        Files.createFile(stateDir.resolve("go"));
    }

    /** Waits for STATEDIR/result and returns its (first) line. */
    public String awaitResult(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Path result = stateDir.resolve("result");
        while (true) {
            try {
                String s = Files.readString(result, StandardCharsets.UTF_8);
                if (s.endsWith("\n")) {
                    return s.lines().findFirst().orElse("");
                }
            } catch (NoSuchFileException e) {
                // not yet
            } catch (IOException e) {
                fail("reading " + result + ": " + e);
            }
            if (!isAlive()) {
                // it may have written the result just before exiting
                if (Files.exists(result)) {
                    continue;
                }
                fail(name + " (pid " + pid + ") died without a result; log:\n" + logTail());
            }
            if (System.nanoTime() > deadline) {
                fail(name + " (pid " + pid + ") gave no result after " + timeout + "; state "
                        + procState(pid).orElse("gone") + "; log:\n" + logTail());
            }
            sleep(5);
        }
    }

    /** go, await the result, and return it. */
    public String goAndAwaitResult() throws IOException {
        go();
        return awaitResult(RESULT_TIMEOUT);
    }

    /**
     * Waits until the current instance has exited. For the original (our child) returns its exit
     * status; for a restored one returns -1 once it is a zombie or gone.
     */
    public int awaitExit(Duration timeout) throws InterruptedException {
        if (!restored) {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                fail(name + " (pid " + pid + ") still running after " + timeout);
            }
            return process.exitValue();
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (isAlive()) {
            if (System.nanoTime() > deadline) {
                fail("restored " + name + " (pid " + pid + ") still running after " + timeout + ", state "
                        + procState(pid).orElse("?"));
            }
            sleep(10);
        }
        return -1;
    }

    /** Waits until no process (not even a zombie) holds our pid, so that it can be restored again. */
    public void awaitPidFree(Duration timeout) throws InterruptedException {
        if (!restored) {
            process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (Files.exists(Paths.get("/proc", Integer.toString(pid)))) {
            if (System.nanoTime() > deadline) {
                fail("pid " + pid + " still taken after " + timeout + " (state " + procState(pid).orElse("?")
                        + ", parent " + procField(pid, "PPid").orElse("?") + "): nobody reaps the exited process?");
            }
            sleep(20);
        }
    }

    /** Running (or sleeping, stopped...) and not a zombie. */
    public boolean isAlive() {
        return isAlive(pid);
    }

    public static boolean isAlive(int pid) {
        Optional<String> st = procState(pid);
        return st.isPresent() && !st.get().startsWith("Z") && !st.get().startsWith("X");
    }

    public static boolean pidExists(int pid) {
        return Files.exists(Paths.get("/proc", Integer.toString(pid)));
    }

    /** The State: line of /proc/PID/status, e.g. "S (sleeping)". */
    public static Optional<String> procState(int pid) {
        return procField(pid, "State");
    }

    public static Optional<String> procField(int pid, String key) {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc", Integer.toString(pid), "status"))) {
                if (line.startsWith(key + ":")) {
                    return Optional.of(line.substring(key.length() + 1).trim());
                }
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** Removes go and result so that a restored instance (which is past ready) can be driven again. */
    public void resetForRestore() throws IOException {
        Files.deleteIfExists(stateDir.resolve("go"));
        Files.deleteIfExists(stateDir.resolve("result"));
    }

    public String logTail() {
        try {
            List<String> lines = Files.readAllLines(stateDir.resolve("log"), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Is the process at pid one of ours: its command line names our state dir, or it runs our binary. */
    private boolean ours(int p) {
        try {
            byte[] cmd = Files.readAllBytes(Paths.get("/proc", Integer.toString(p), "cmdline"));
            for (String arg : new String(cmd, StandardCharsets.UTF_8).split("\0")) {
                if (arg.equals(stateDir.toString())) {
                    return true;
                }
            }
            Path target = Files.readSymbolicLink(Paths.get("/proc", Integer.toString(p), "exe"));
            return target.equals(exe.toRealPath());
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        process.destroyForcibly();
        List<Integer> killed = new ArrayList<>();
        for (int p : pids) {
            if (isAlive(p) && ours(p)) {
                ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly);
                killed.add(p);
            }
        }
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (int p : killed) {
            while (isAlive(p) && System.nanoTime() < deadline) {
                sleep(10);
            }
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    @Override
    public String toString() {
        return name + "[pid " + pid + (restored ? ", restored" : "") + "]";
    }
}
