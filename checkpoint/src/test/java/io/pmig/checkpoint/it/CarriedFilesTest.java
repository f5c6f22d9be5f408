package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.carried.CarriedFiles;
import io.pmig.checkpoint.dirty.UntrackableException;
import io.pmig.checkpoint.nativeio.Linux;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Files no other host has travel in the image (tmpfs_files.c: POSIX shm mapped by a parent and its child, a deleted file
 * open and mapped, a sealed memfd mapped, a tmpfs file the test removes between checkpoint and restore); the program's
 * own checks pass after the restore. A tmpfs file found here with other bytes is refused by name, and so is a file
 * above the size limit at checkpoint. A single process mapping a tmpfs file (mapped_file.c, run in /dev/shm) is not
 * pre-copied (bundle mode) and moves with it; its log there, appended to after the checkpoint, is the very file it had
 * and is used as it is. A memfd larger than one piece of a carried file (large_memfd.c) comes back whole.
 */
class CarriedFilesTest extends ItSupport {
    private final List<Integer> seen = new ArrayList<>();
    private int root;

    @BeforeEach
    void needsRoot() {
        assumeRoot();
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (int pid : seen) {
            try {
                Linux.kill(pid, Linux.SIGKILL);
            } catch (RuntimeException gone) {
                // already ended
            }
        }
        if (root != 0) {
            Files.deleteIfExists(tmpfsFile());
            Files.deleteIfExists(Path.of("/dev/shm/pmig-shm-" + root));
        }
        System.clearProperty(CarriedFiles.MAX_BYTES_PROPERTY);
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void carriedFilesComeBackFromAnImageDirectoryAndATmpfsFileWithOtherBytesIsRefused() throws Exception {
        TestProgram p = start();
        Path dir = imageDir("carried");
        CheckpointReport cr = new CheckpointEngine().checkpoint(p.pid(), dir, new CheckpointOptions(false));
        seen.addAll(cr.processes());
        awaitTreeFree(p, cr.processes());

        Files.delete(tmpfsFile());
        Files.write(tmpfsFile(), new byte[] {1, 2, 3}); // another file (inode) there, as on another host
        RefusedException e = assertThrows(RefusedException.class, () -> new RestoreEngine().restore(dir, new RestoreOptions(false)));
        assertTrue(e.getMessage().contains(tmpfsFile().toString()) && e.getMessage().contains("other contents"), e.getMessage());
        assertTrue(Files.exists(tmpfsFile()), "the refused restore left the file alone");

        Files.delete(tmpfsFile());
        RestoreReport rr = new RestoreEngine().restore(dir, new RestoreOptions(false));
        p.adoptRestored(rr.pid());
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void carriedFilesComeBackByStream() throws Exception {
        TestProgram p = start();
        byte[] image = checkpointTreeToBytes(p, seen);
        Files.delete(tmpfsFile());
        restoreAndResume(p, image, new RestoreOptions(false));
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aMemfdOfSeveralPiecesComesBackWhole() throws Exception {
        System.setProperty(CarriedFiles.MAX_BYTES_PROPERTY, Integer.toString(32 << 20));
        TestProgram p = startReady("large_memfd");
        byte[] image = checkpointIntoMemoryAndCommit(p);
        assertTrue(image.length > 24 << 20, "the image holds the memfd's 24 MiB: " + image.length + " bytes");
        restoreAndResume(p, image, new RestoreOptions(false));
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aFileAboveTheLimitIsRefusedByNameAndTheProcessRunsOn() throws Exception {
        TestProgram p = start();
        System.setProperty(CarriedFiles.MAX_BYTES_PROPERTY, "4096");
        RefusedException e = assertThrows(RefusedException.class,
            () -> new CheckpointEngine().checkpoint(p.pid(), imageDir("limit"), new CheckpointOptions(false)));
        assertTrue(e.getMessage().contains(CarriedFiles.MAX_BYTES_PROPERTY) && e.getMessage().contains("8192 bytes"), e.getMessage());
        assertRunningUntraced(p.pid(), "after the refusal");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aProcessMappingATmpfsFileIsNotPrecopiedButMovesInOnePieceWithIt() throws Exception {
        Path state = Files.createTempDirectory(Path.of("/dev/shm"), "pmig-carried-");
        try (TestProgram p = TestProgram.start("mapped_file", state)) {
            p.awaitReady();
            Path data = state.resolve("data");
            UntrackableException e = assertThrows(UntrackableException.class,
                () -> new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults()));
            assertTrue(e.getMessage().contains(data.toString()) && e.getMessage().contains("bundle"), e.getMessage());
            assertRunningUntraced(p.pid(), "after the refusal");

            byte[] bytes = Files.readAllBytes(data);
            checkpoint(p, imageDir("mapped"), false);
            Files.delete(data);
            restore(p, imageDir("mapped"));
            goExpectPassAndExit(p);
            assertTrue(Arrays.equals(bytes, Files.readAllBytes(data)), data + " came back with its bytes");
        } finally {
            try (Stream<Path> files = Files.walk(state)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
            Files.deleteIfExists(state.resolveSibling(state.getFileName() + ".pid")); // TestProgram's, beside the state
        }
    }

    private TestProgram start() throws Exception {
        TestProgram p = startReady("tmpfs_files");
        root = p.pid();
        assertTrue(Files.exists(tmpfsFile()), tmpfsFile() + " after the program's set-up");
        return p;
    }

    private Path tmpfsFile() {
        return Path.of("/dev/shm/pmig-tmpfs-" + root);
    }
}
