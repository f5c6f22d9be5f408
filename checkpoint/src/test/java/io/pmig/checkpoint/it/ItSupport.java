package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.imagedir.NodeKey;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.nativeio.Errno;
import io.pmig.nativeio.SyscallException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;

/** Shared plumbing for the integration tests: temp dirs, program lifetimes, engine calls with checks. */
abstract class ItSupport {
    static final String IMAGE_FILE = "image.pmig";
    static final Duration PID_FREE_TIMEOUT = Duration.ofSeconds(20);

    static {
        // the image key of these tests' node, made on first use: not the machine's /var/lib/pmig/image.key
        if (System.getProperty(NodeKey.PROPERTY) == null) {
            try {
                Path dir = Files.createTempDirectory("pmig-it-key");
                Path key = dir.resolve("image.key");
                dir.toFile().deleteOnExit(); // after the key (deleted in reverse order)
                key.toFile().deleteOnExit();
                System.setProperty(NodeKey.PROPERTY, key.toString());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @TempDir
    Path tmp;

    private final List<TestProgram> programs = new ArrayList<>();

    static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.substring(4).trim().split("\\s+")[1].equals("0");
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    static void assumeRoot() {
        Assumptions.assumeTrue(isRoot(), "checkpoint/restore tests need root");
    }

    /** {@link TestProgram#STATEFUL}, or those of them named in -Dpmig.programs=a,b (to run a few while working on them). */
    static Stream<String> statefulPrograms() {
        String only = System.getProperty("pmig.programs", "");
        return TestProgram.STATEFUL.stream().filter(p -> only.isEmpty() || List.of(only.split(",")).contains(p));
    }

    /** Starts a program with its own state dir under the test's temp dir; it is killed after the test. */
    TestProgram start(String name) throws IOException {
        TestProgram p = TestProgram.start(name, tmp.resolve(name + "-state"));
        programs.add(p);
        return p;
    }

    /** A program running as user and group {@code id}, ready. */
    TestProgram startReadyAs(String name, int id) throws IOException {
        return ready(TestProgram.startAs(name, tmp.resolve(name + "-state"), id));
    }

    /** A program whose clocks are ahead of the host's (TestProgram#startWithClocksAhead), ready. */
    TestProgram startReadyWithClocksAhead(String name, long monotonicSeconds, long boottimeSeconds) throws IOException {
        return ready(TestProgram.startWithClocksAhead(name, tmp.resolve(name + "-state"), monotonicSeconds, boottimeSeconds));
    }

    /** A program in a namespace of its own of {@code kind} (TestProgram#startInNamespace), ready. */
    TestProgram startReadyInNamespace(String name, String kind) throws IOException {
        return ready(TestProgram.startInNamespace(name, tmp.resolve(name + "-state"), kind));
    }

    /** A program that reads the word in STATEDIR/mode to choose what it sets up, ready. */
    TestProgram startReadyInMode(String name, String mode) throws IOException {
        Path state = Files.createDirectories(tmp.resolve(name + "-state"));
        Files.writeString(state.resolve("mode"), mode + "\n");
        return startReady(name);
    }

    /** A program running from a copy of its binary at {@code exe}, ready. */
    TestProgram startReadyCopy(String name, Path exe) throws IOException {
        return ready(TestProgram.startCopy(name, exe, tmp.resolve(name + "-state")));
    }

    private TestProgram ready(TestProgram p) {
        programs.add(p);
        p.awaitReady();
        return p;
    }

    TestProgram startReady(String name) throws IOException {
        TestProgram p = start(name);
        p.awaitReady();
        return p;
    }

    Path imageDir(String label) throws IOException {
        return Files.createDirectories(tmp.resolve("image-" + label));
    }

    @AfterEach
    void killEverything() {
        for (TestProgram p : programs) {
            p.close();
        }
        programs.clear();
    }

    /** Checkpoints p into dir and checks the report and what became of the process. */
    CheckpointReport checkpoint(TestProgram p, Path dir, boolean leaveRunning) throws Exception {
        // a program with children is a tree, checkpointed whole: the threads of every process
        int threadsBefore = 0;
        for (int pid : io.pmig.checkpoint.tree.ProcessTree.hostPidsOf(p.pid())) {
            threadsBefore += Integer.parseInt(TestProgram.procField(pid, "Threads").orElse("-1"));
        }
        CheckpointReport r = new CheckpointEngine().checkpoint(p.pid(), dir, new CheckpointOptions(leaveRunning));
        assertNotNull(r, "checkpoint report");
        assertEquals(p.pid(), r.pid(), "report pid");
        assertEquals(leaveRunning, r.leftRunning(), "report leftRunning");
        assertEquals(threadsBefore, r.threads(), "report threads");
        Path image = dir.resolve(IMAGE_FILE);
        assertTrue(Files.isRegularFile(image), "no " + image + " after checkpoint");
        assertTrue(Files.size(image) > 0, "empty image");
        assertEquals(Files.size(image), r.imageBytes(), "report imageBytes vs size of " + image);
        if (leaveRunning) {
            assertRunningUntraced(p.pid(), "after checkpoint --leave-running");
        } else {
            int status = p.awaitExit(TestProgram.EXIT_TIMEOUT);
            if (!p.isRestored()) {
                assertTrue(status != 0, "the checkpointed original exited normally (" + status + ") instead of being killed");
            }
            // the original's parent (setsid) reaps it at once; a restored instance's parent may take a moment
            p.awaitPidFree(PID_FREE_TIMEOUT);
            // its children (a tree) are reaped by whoever adopted them
            awaitTreeFree(p, r.processes());
        }
        return r;
    }

    /** Restores from dir and checks the restored process: same pid and thread count, running, not traced. */
    RestoreReport restore(TestProgram p, Path dir) {
        RestoreReport r = new RestoreEngine().restore(dir, new RestoreOptions(false));
        assertNotNull(r, "restore report");
        p.adoptRestored(r.pid());
        assertRunningUntraced(p.pid(), "after restore");
        return r;
    }

    /** A streamed checkpoint of p, committed: the original is killed and its pid free. */
    static byte[] checkpointIntoMemoryAndCommit(TestProgram p) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(p.pid(), Channels.newChannel(out), CheckpointOptions.defaults())) {
            assertEquals(out.size(), frozen.report().imageBytes(), "report imageBytes vs bytes on the stream");
            frozen.commit();
        }
        assertTrue(p.awaitExit(TestProgram.EXIT_TIMEOUT) != 0, "commit killed the original");
        p.awaitPidFree(PID_FREE_TIMEOUT);
        return out.toByteArray();
    }

    /** A restore from an image held in memory, left stopped for the caller. */
    static RestoredProcess restoreFrom(byte[] image, RestoreOptions options) {
        return new RestoreEngine().restore(Channels.newChannel(new ByteArrayInputStream(image)), "memory stream", options);
    }

    /** Restores p from an image held in memory and lets it run; checks it runs untraced. */
    static void restoreAndResume(TestProgram p, byte[] image, RestoreOptions options) {
        try (RestoredProcess restored = restoreFrom(image, options)) {
            restored.resume();
            p.adoptRestored(restored.pid());
        }
        assertRunningUntraced(p.pid(), "after a restore from a stream");
    }

    /**
     * Checkpoints the tree of {@code p} onto a stream and commits (the original ends), adding its processes to
     * {@code seen}; returns the image once no process holds their pids.
     */
    static byte[] checkpointTreeToBytes(TestProgram p, List<Integer> seen) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<Integer> members;
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(p.pid(), Channels.newChannel(out), CheckpointOptions.defaults())) {
            members = frozen.report().processes();
            seen.addAll(members);
            frozen.commit();
        }
        awaitTreeFree(p, members);
        return out.toByteArray();
    }

    /** The checkpointed tree's root {@code p} has exited and no process, not even a zombie, holds any of {@code pids}. */
    static void awaitTreeFree(TestProgram p, List<Integer> pids) throws Exception {
        p.awaitExit(TestProgram.EXIT_TIMEOUT);
        long deadline = System.nanoTime() + PID_FREE_TIMEOUT.toNanos();
        for (int pid : pids) {
            while (Files.exists(Path.of("/proc", Integer.toString(pid)))) {
                if (System.nanoTime() > deadline) {
                    fail("pid " + pid + " of the checkpointed tree is still taken after " + PID_FREE_TIMEOUT);
                }
                Thread.sleep(20);
            }
        }
    }

    /** No process, not even a zombie, holds pid any more (a killed half-restored process is collected). */
    static void awaitGone(int pid, String what) throws InterruptedException {
        for (int i = 0; i < 500 && TestProgram.pidExists(pid); i++) {
            Thread.sleep(10);
        }
        assertFalse(TestProgram.pidExists(pid), what + ": pid " + pid + " is still there ("
            + TestProgram.procState(pid).orElse("?") + ")");
    }

    /** The process exists, is not a zombie, not stopped and not traced (the engine let go of it). */
    static void assertRunningUntraced(int pid, String when) {
        String state = TestProgram.procState(pid).orElse(null);
        assertNotNull(state, "pid " + pid + " does not exist " + when);
        // give a just-resumed process a moment to leave a transient stop
        for (int i = 0; i < 100 && (state.startsWith("t") || state.startsWith("T")); i++) {
            TestProgram.sleep(10);
            state = TestProgram.procState(pid).orElse("gone");
        }
        assertTrue(state.startsWith("R") || state.startsWith("S") || state.startsWith("D"),
                "pid " + pid + " is " + state + " " + when);
        assertEquals("0", TestProgram.procField(pid, "TracerPid").orElse("?"), "pid " + pid + " still traced " + when);
        assertFalse(v2Cgroup(pid).contains("/pmig/park-"), "pid " + pid + " is still parked in " + v2Cgroup(pid) + " " + when);
    }

    /** The process waits for a migration's outcome frozen in its park cgroup, untraced, its parent told nothing. */
    static void assertParked(int pid, String when) {
        String cgroup = v2Cgroup(pid);
        assertTrue(cgroup.startsWith("/pmig/park-" + pid + "@"), "pid " + pid + " is in cgroup " + cgroup + ", not its park, " + when);
        Path events = Path.of("/sys/fs/cgroup/unified").resolve(cgroup.substring(1)).resolve("cgroup.events");
        if (!Files.exists(events)) {
            events = Path.of("/sys/fs/cgroup").resolve(cgroup.substring(1)).resolve("cgroup.events");
        }
        try {
            // the threads enter the freezer as soon as they are scheduled after the detach
            for (int i = 0; i < 500 && !Files.readString(events).contains("frozen 1"); i++) {
                TestProgram.sleep(10);
            }
            assertTrue(Files.readString(events).contains("frozen 1"), "park " + cgroup + " is not frozen " + when);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + events, e);
        }
        assertEquals("0", TestProgram.procField(pid, "TracerPid").orElse("?"), "pid " + pid + " still traced " + when);
    }

    /** The process's cgroup v2 path ("0::" line of /proc/PID/cgroup), or "" if it is gone. */
    static String v2Cgroup(int pid) {
        try {
            return Files.readAllLines(Path.of("/proc", Integer.toString(pid), "cgroup")).stream()
                .filter(l -> l.startsWith("0::")).map(l -> l.substring(3)).findFirst().orElse("");
        } catch (IOException gone) {
            return "";
        }
    }

    static void assertPass(TestProgram p, String result) {
        if (!"PASS".equals(result)) {
            fail(p + ": " + result + "\nlog:\n" + p.logTail());
        }
    }

    /** go, expect PASS, expect the instance to exit. */
    static void goExpectPassAndExit(TestProgram p) throws Exception {
        assertPass(p, p.goAndAwaitResult());
        int status = p.awaitExit(TestProgram.EXIT_TIMEOUT);
        if (!p.isRestored()) {
            assertEquals(0, status, p + " exit status");
        }
    }

    static void assertSameProcess(ProcSnapshot before, ProcSnapshot after, String what) {
        List<String> d = before.diff(after);
        if (!d.isEmpty()) {
            fail(what + ": /proc view of pid " + after.pid() + " differs:\n  " + String.join("\n  ", d));
        }
    }

    static void copyDir(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path src : (Iterable<Path>) s::iterator) {
                Path dst = to.resolve(from.relativize(src).toString());
                if (Files.isDirectory(src)) {
                    Files.createDirectories(dst);
                } else {
                    Files.copy(src, dst);
                }
            }
        }
    }

    /** fd number -> link target, e.g. "anon_inode:[userfaultfd]". */
    static Map<Integer, String> fds(int pid) throws Exception {
        Map<Integer, String> out = new TreeMap<>();
        List<Path> entries = new ArrayList<>();
        try (var list = Files.list(Path.of("/proc", Integer.toString(pid), "fd"))) {
            list.forEach(entries::add);
        }
        for (Path e : entries) {
            out.put(Integer.parseInt(e.getFileName().toString()), Files.readSymbolicLink(e).toString());
        }
        return out;
    }

    /** Commits {@code frozen} (the original dies), lets the copy {@code copy} go and expects its PASS; the copy is killed after. */
    static void commitAndExpectPassOfCopy(TestProgram p, FrozenCheckpoint frozen, int copy) throws Exception {
        frozen.commit();
        try {
            p.awaitPidFree(PID_FREE_TIMEOUT);
            p.go();
            assertPass(p, awaitResultOf(p.stateDir(), copy));
        } finally {
            killQuietly(copy);
        }
    }

    /** The result a copy (not the TestProgram's own instance) writes into the shared state dir. */
    static String awaitResultOf(Path stateDir, int copyPid) throws Exception {
        Path result = stateDir.resolve("result");
        for (int i = 0; i < 2000; i++) {
            boolean alive = TestProgram.isAlive(copyPid); // before looking: it may write the result and exit meanwhile
            if (Files.exists(result) && Files.readString(result).endsWith("\n")) {
                return Files.readString(result).lines().findFirst().orElse("");
            }
            if (!alive) {
                fail("the copy " + copyPid + " died without a result; log:\n" + Files.readString(stateDir.resolve("log")));
            }
            Thread.sleep(10);
        }
        fail("no result from the copy " + copyPid);
        return null;
    }

    static void killQuietly(int pid) throws InterruptedException {
        try {
            Linux.kill(pid, Linux.SIGKILL);
        } catch (SyscallException e) {
            if (e.errno() != Errno.ESRCH) {     // gone already: a program that passed exits by itself
                throw e;
            }
        }
        for (int i = 0; i < 500 && TestProgram.pidExists(pid); i++) {
            Thread.sleep(10);
        }
    }
}
