package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.RefusedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A process that shares something with a process that would stay behind is refused before anything is touched, naming the
 * other process and what they share; both run on as before (the program's parent finds its child running after the
 * refusal). Through both entry points: a checkpoint and the start of a pre-copy.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SharingRefusalTest extends ItSupport {
    private static final String PROGRAM = "shares_with_another";

    @BeforeEach
    void root() {
        assumeRoot();
    }

    /** Each mode of the program, and what the refusal must name besides the other process. */
    static Stream<Arguments> sharings() {
        return Stream.of(
                Arguments.of("files", "descriptor table"),
                Arguments.of("vm", "address space"),
                Arguments.of("file", "shared-file"),
                Arguments.of("socket", "socket:["),
                Arguments.of("pipe", "pipe:["),
                Arguments.of("memory", "shared memory"),
                Arguments.of("lock", "locks the file"),
                Arguments.of("lockwait", "locks the file"),
                Arguments.of("flockwait", "locks the file"))
            .flatMap(a -> Stream.of("checkpoint", "precopy").map(entry -> Arguments.of(a.get()[0], a.get()[1], entry)));
    }

    @ParameterizedTest(name = "{0}: refused naming \"{1}\" at {2}, both processes run on")
    @MethodSource("sharings")
    void refusedNamingTheOtherProcess(String mode, String resource, String entry) throws Exception {
        TestProgram parent = startReadyInMode(PROGRAM, mode);
        int child = Integer.parseInt(Files.readString(parent.stateDir().resolve("target")).trim());
        int target = child;
        int other = parent.pid();
        ProcSnapshot before = ProcSnapshot.of(target);
        Path dir = imageDir(mode);
        Executable attempt = entry.equals("checkpoint")
            ? () -> new CheckpointEngine().checkpoint(target, dir, new CheckpointOptions(false))
            : () -> new CheckpointEngine().precopy(target, PrecopyOptions.defaults()).close();
        RefusedException e = assertThrows(RefusedException.class, attempt);
        assertTrue(e.getMessage().contains(resource), "the refusal does not name " + resource + ": " + e.getMessage());
        assertTrue(e.getMessage().contains("process " + other + " "), "the refusal does not name process " + other + ": "
            + e.getMessage());
        assertRunningUntraced(target, "after the refusal");
        assertSameProcess(before, ProcSnapshot.of(target), "process after a refusal");
        assertEquals(0, countFiles(dir), "a refused checkpoint wrote into " + dir);
        goExpectPassAndExit(parent);
    }

    /**
     * A tree whose two members share an address space (clone with CLONE_VM, not CLONE_THREAD) is refused: a restore
     * would give each its own. The parent is named with its child, and both run on. (A descriptor table shared with the
     * parent is restored shared: shared_fd_table.)
     */
    @ParameterizedTest(name = "{0}: a tree sharing {1} within is refused")
    @org.junit.jupiter.params.provider.CsvSource({"vm, address space"})
    void aTreeSharingAContextWithinIsRefused(String mode, String resource) throws Exception {
        TestProgram parent = startReadyInMode(PROGRAM, mode);
        int child = Integer.parseInt(Files.readString(parent.stateDir().resolve("target")).trim());
        Path dir = imageDir(mode + "-tree");
        RefusedException e = assertThrows(RefusedException.class,
            () -> new CheckpointEngine().checkpoint(parent.pid(), dir, new CheckpointOptions(false)));
        assertTrue(e.getMessage().contains(resource) && e.getMessage().contains("process " + child + " ")
            && e.getMessage().contains("of the same tree"), e.getMessage());
        assertRunningUntraced(parent.pid(), "after the refusal");
        assertEquals(0, countFiles(dir), "a refused checkpoint wrote into " + dir);
        goExpectPassAndExit(parent);
    }

    /**
     * A process in a UTS, network, cgroup or mount namespace other than the engine's would come back in the engine's: refused at
     * both entry points, naming the namespace, and it runs on untouched.
     */
    @ParameterizedTest(name = "a process in a {0} namespace of its own is refused at {1}")
    @org.junit.jupiter.params.provider.CsvSource({"uts, UTS namespace, checkpoint", "net, network namespace, precopy",
        "cgroup, cgroup namespace, checkpoint", "mount, mount namespace, precopy"})
    void aProcessInANamespaceOfItsOwnIsRefused(String kind, String named, String entry) throws Exception {
        TestProgram p = startReadyInNamespace("mem", kind);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        Path dir = imageDir(kind);
        Executable attempt = entry.equals("checkpoint")
            ? () -> new CheckpointEngine().checkpoint(p.pid(), dir, new CheckpointOptions(false))
            : () -> new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults()).close();
        RefusedException e = assertThrows(RefusedException.class, attempt);
        assertTrue(e.getMessage().contains(named) && e.getMessage().contains(kind.replace("mount", "mnt") + ":["), e.getMessage());
        assertRunningUntraced(p.pid(), "after the refusal");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "process after a refusal");
        assertEquals(0, countFiles(dir), "a refused checkpoint wrote into " + dir);
        goExpectPassAndExit(p);
    }

    /** Only what every started process shares with its parent (stdin /dev/null, a log appended to): no refusal. */
    @Test
    void aChildSharingOnlyItsInheritedStdioIsCheckpointed() throws Exception {
        TestProgram parent = startReadyInMode(PROGRAM, "nothing");
        int child = Integer.parseInt(Files.readString(parent.stateDir().resolve("target")).trim());
        CheckpointReport report = new CheckpointEngine().checkpoint(child, imageDir("nothing"), new CheckpointOptions(true));
        assertEquals(child, report.pid());
        assertRunningUntraced(child, "after a checkpoint that left it running");
        goExpectPassAndExit(parent);
    }

    private static long countFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }
}
