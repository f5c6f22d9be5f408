package io.pmig.checkpoint.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.RefusedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files matched by what they hold; images from before content identities keep the inode rule. */
class FileIdentityTest {
    @TempDir
    Path tmp;

    @Test
    void aCopyWithANewInodeIsTheSameFileButNotForAnOldImage() throws Exception {
        Path file = Files.writeString(tmp.resolve("data"), "the same bytes");
        FileIdentity taken = FileIdentity.of(file);
        FileIdentity takenByAnOldWriter = new FileIdentity(taken.path(), taken.device(), taken.inode(), taken.size(),
            taken.modifiedNanos(), null);
        Path copy = Files.copy(file, tmp.resolve("copy"), StandardCopyOption.COPY_ATTRIBUTES);
        Files.move(copy, file, StandardCopyOption.REPLACE_EXISTING);
        assertNotEquals(taken.inode(), FileIdentity.of(file).inode(), "the copy has a new inode");

        taken.requireUnchanged();
        taken.requireSameFile();
        RefusedException e = assertThrows(RefusedException.class, takenByAnOldWriter::requireSameFile);
        assertTrue(e.getMessage().contains("predates identities by content"), e.getMessage());
    }

    @Test
    void anotherDirectoryAtThePathIsTheSameDirectory() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("dir"));
        FileIdentity taken = FileIdentity.of(dir);
        assertEquals("directory", taken.content());
        Files.delete(dir);
        Files.createDirectory(dir);

        taken.requireSameFile();
        Files.delete(dir);
        Files.writeString(dir, "a file now");
        assertThrows(RefusedException.class, taken::requireSameFile);
    }
}
