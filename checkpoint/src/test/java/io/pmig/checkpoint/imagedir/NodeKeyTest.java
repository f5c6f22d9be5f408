package io.pmig.checkpoint.imagedir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.RefusedException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** The node key: made on first use, 0600 in a new 0700 directory, the same afterwards; a key others may read is refused. */
@ExtendWith(TemporaryNodeKey.class)
class NodeKeyTest {
    @TempDir
    Path tmp;

    @Test
    void madeOnFirstUseRootOnlyAndKept() throws Exception {
        Path file = NodeKey.configuredPath();
        assertRefused(NodeKey::load, "has no image key");
        byte[] first = NodeKey.loadOrCreate().newMac().doFinal(new byte[] {1});
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())));
        assertEquals(32, Files.size(file));
        assertArrayEquals(first, NodeKey.load().newMac().doFinal(new byte[] {1}), "the same key on the next use");
        try (var files = Files.list(file.getParent())) {
            assertEquals(1, files.count(), "no temporary file left");
        }
    }

    @Test
    void aKeyOthersMayReadOrALinkIsRefused() throws Exception {
        Path file = NodeKey.configuredPath();
        NodeKey.loadOrCreate();
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertRefused(NodeKey::load, "mode 0600");
        assertRefused(NodeKey::loadOrCreate, "mode 0600");
        Files.move(file, tmp.resolve("elsewhere"));
        Files.createSymbolicLink(file, tmp.resolve("elsewhere"));
        assertRefused(NodeKey::load, "symbolic link");
    }

    private static void assertRefused(Executable load, String naming) {
        RefusedException e = assertThrows(RefusedException.class, load);
        assertTrue(e.getMessage().contains(naming), "the refusal names '" + naming + "': " + e.getMessage());
    }
}
