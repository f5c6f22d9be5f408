package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Another host's files have other devices and inodes: a restore must match the executable and a
 * mapped data file by what they hold. The program runs from a copy of its binary on a ramfs this
 * test mounts (not tmpfs: a tmpfs file's contents travel in the image, see CarriedFilesTest); before
 * the restore both files are swapped for copies with new inodes.
 */
@Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FileContentIdentityTest extends ItSupport {
    private static final String PROGRAM = "mapped_file";
    private Path otherFs;
    private Path exe;

    @BeforeEach
    void mountRamfs() throws Exception {
        assumeRoot();
        otherFs = Files.createDirectories(tmp.resolve("other-fs"));
        command("mount", "-t", "ramfs", "pmig-test", otherFs.toString());
        exe = otherFs.resolve(PROGRAM);
        Files.copy(TestProgram.programsDir().resolve(PROGRAM), exe, StandardCopyOption.COPY_ATTRIBUTES);
    }

    @AfterEach
    void unmountRamfs() throws Exception {
        if (otherFs != null) {
            command("umount", "--lazy", otherFs.toString()); // a restored instance may still be on its way out
        }
    }

    @Test
    void byteIdenticalFilesWithNewInodesRestore() throws Exception {
        TestProgram p = startReadyCopy(PROGRAM, exe);
        Path data = p.stateDir().resolve("data");
        Path dir = imageDir("1");
        checkpoint(p, dir, false);

        long exeInode = inode(exe);
        long dataInode = inode(data);
        replace(exe, Files.readAllBytes(exe));
        replace(data, Files.readAllBytes(data));
        assertNotEquals(exeInode, inode(exe), "the executable's copy has a new inode");
        assertNotEquals(dataInode, inode(data), "the data file's copy has a new inode");

        restore(p, dir);
        goExpectPassAndExit(p);
    }

    @Test
    void aDataFileWithOneByteChangedIsRefusedNamingBothHashes() throws Exception {
        TestProgram p = startReadyCopy(PROGRAM, exe);
        Path data = p.stateDir().resolve("data");
        Path dir = imageDir("1");
        checkpoint(p, dir, false);

        byte[] original = Files.readAllBytes(data);
        byte[] changed = original.clone();
        changed[4096 + 17] ^= 1;
        replace(data, changed);
        RefusedException e = assertThrows(RefusedException.class, () -> new RestoreEngine().restore(dir, new RestoreOptions(false)));
        assertTrue(e.getMessage().contains(data.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("sha256:" + sha256(original)), "the checkpoint's hash: " + e.getMessage());
        assertTrue(e.getMessage().contains("sha256:" + sha256(changed)), "this file's hash: " + e.getMessage());

        replace(data, original); // the refusal touched nothing: with the right bytes back, the image restores
        restore(p, dir);
        goExpectPassAndExit(p);
    }

    @Test
    void anExecutableOfAnotherBuildIsRefusedNamingBothBuildIds() throws Exception {
        TestProgram p = startReadyCopy(PROGRAM, exe);
        Path dir = imageDir("1");
        checkpoint(p, dir, false);

        byte[] original = Files.readAllBytes(exe);
        String buildId = buildId(exe);
        byte[] rebuilt = original.clone();
        int at = indexOf(original, HexFormat.of().parseHex(buildId));
        rebuilt[at] ^= 1;
        replace(exe, rebuilt);
        String otherBuildId = buildId(exe);
        assertNotEquals(buildId, otherBuildId, "readelf sees the changed build-id");

        RefusedException e = assertThrows(RefusedException.class, () -> new RestoreEngine().restore(dir, new RestoreOptions(false)));
        assertTrue(e.getMessage().contains(exe.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("build-id:" + buildId), "the checkpoint's build-id: " + e.getMessage());
        assertTrue(e.getMessage().contains("build-id:" + otherBuildId), "this file's build-id: " + e.getMessage());
    }

    /** Puts {@code bytes} at {@code path} as a new file (new inode), keeping its mode and mtime. */
    private static void replace(Path path, byte[] bytes) throws IOException {
        Path next = path.resolveSibling(path.getFileName() + ".next");
        Files.write(next, bytes);
        Files.setPosixFilePermissions(next, Files.getPosixFilePermissions(path));
        Files.setLastModifiedTime(next, Files.getLastModifiedTime(path));
        Files.move(next, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static long inode(Path path) throws IOException {
        return (Long) Files.getAttribute(path, "unix:ino", LinkOption.NOFOLLOW_LINKS);
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** The build-id as binutils reads it, not as the code under test does. */
    private static String buildId(Path elf) throws Exception {
        Matcher m = Pattern.compile("Build ID: ([0-9a-f]+)").matcher(command("readelf", "-n", elf.toString()));
        assertTrue(m.find(), "readelf -n shows no build-id for " + elf);
        return m.group(1);
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (java.util.Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        throw new AssertionError("build-id bytes not found in the executable");
    }

    private static String command(String... args) throws Exception {
        Process p = new ProcessBuilder(args).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", args) + " did not finish");
        assertEquals(0, p.exitValue(), String.join(" ", args) + ": " + out);
        return out;
    }
}
