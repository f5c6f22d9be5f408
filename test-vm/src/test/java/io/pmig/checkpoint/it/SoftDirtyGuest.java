package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.checkpoint.dirty.DirtyTracking;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Runs inside a test-vm guest on Debian's 6.1 kernel (io.pmig.testvm.SoftDirtyVmTest): the checkpoint
 * module's own dirty-tracking and pre-copy integration tests, called as plain methods, with the
 * tracker the engine picks on that kernel, soft-dirty. No JUnit engine in the guest: under TCG its
 * start-up alone costs more than the checks. It lives in the tests' package to reach them.
 *
 * <p>Prints one line per check, {@code PASS name (N ms)} or {@code FAIL name: why} and the trace, and
 * exits with 1 if any failed.
 */
public final class SoftDirtyGuest {
    /** A test method of an {@link ItSupport} subclass, run on a fresh instance. */
    @FunctionalInterface
    private interface TestMethod<T extends ItSupport> {
        void run(T test) throws Exception;
    }

    @FunctionalInterface
    private interface Check {
        void run() throws Exception;
    }

    private static int failures;

    private SoftDirtyGuest() {
    }

    public static void main(String[] args) throws IOException {
        // Debian's kernel maps anonymous memory with transparent huge pages wherever it can ("always"); a huge
        // page is one page-table entry with one soft-dirty bit, so a write anywhere in it reports all 512 of
        // its pages. The exact page-by-page checks run as on the development machines, huge pages on madvise.
        Files.writeString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"), "madvise");
        check("softDirtyIsTheMethodOffered", () -> assertEquals(DirtyTracking.Method.SOFT_DIRTY, DirtyTracking.available(),
            "the tracking method of a kernel with CONFIG_MEM_SOFT_DIRTY"));
        dirtyTracker("reportsExactlyThePagesWrittenAndLeavesNoTrace", DirtyTrackerTest::reportsExactlyThePagesWrittenAndLeavesNoTrace);
        dirtyTracker("followsMappingsCreatedAndReplacedMeanwhile", DirtyTrackerTest::followsMappingsCreatedAndReplacedMeanwhile);
        dirtyTracker("followsMappingsMovedUnmappedAndGrown", DirtyTrackerTest::followsMappingsMovedUnmappedAndGrown);
        precopy("anIdleProcessNeedsOneRoundAndALastPartOfAlmostNothing", PrecopyTest::anIdleProcessNeedsOneRoundAndALastPartOfAlmostNothing);
        precopy("mappingChurnDuringThePrecopyIsFollowed", PrecopyTest::mappingChurnDuringThePrecopyIsFollowed);
        precopy("anAbortedLastPartLeavesTheSourceRunningWithoutTracking", PrecopyTest::anAbortedLastPartLeavesTheSourceRunningWithoutTracking);
        System.exit(failures == 0 ? 0 : 1);
    }

    private static void dirtyTracker(String name, TestMethod<DirtyTrackerTest> method) {
        run(name, new DirtyTrackerTest(), test -> {
            test.root();
            method.run(test);
        });
    }

    private static void precopy(String name, TestMethod<PrecopyTest> method) {
        run(name, new PrecopyTest(), test -> {
            test.rootAndTracking();
            method.run(test);
        });
    }

    /** What JUnit would do around the method: a temporary directory, then every program killed and the directory removed. */
    private static <T extends ItSupport> void run(String name, T test, TestMethod<T> method) {
        check(name, () -> {
            test.tmp = Files.createTempDirectory("pmig-guest-" + name);
            try {
                method.run(test);
            } finally {
                test.killEverything();
                deleteTree(test.tmp);
            }
        });
    }

    private static void check(String name, Check body) {
        long started = System.nanoTime();
        try {
            body.run();
            System.out.printf("PASS %s (%d ms)%n", name, (System.nanoTime() - started) / 1_000_000);
        } catch (Throwable t) {
            failures++;
            StringWriter trace = new StringWriter();
            t.printStackTrace(new PrintWriter(trace));
            System.out.printf("FAIL %s: %s%n%s", name, t.getMessage(), trace);
        }
        System.out.flush();
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        }
    }
}
