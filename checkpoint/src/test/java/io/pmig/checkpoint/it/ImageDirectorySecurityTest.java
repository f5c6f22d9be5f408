package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.imagedir.ImageMac;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.zip.CRC32C;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Image directories hold memory and the credentials a restore gives: made 0700 with 0600 files; a link
 * planted where the checkpoint writes is neither followed nor touched (it overwrote a root 0600 file); a
 * directory another user owns or may write to is refused by checkpoint and restore; an image changed by
 * one byte (its uid, record checksum recomputed) is refused before any process exists (it ran as the
 * uid it named).
 */
class ImageDirectorySecurityTest extends ItSupport {
    private static final int NOBODY = 65534;

    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void theDirectoryIsMade0700AndItsFiles0600() throws Exception {
        TestProgram p = startReady("procstate");
        Path dir = tmp.resolve("new").resolve("image");
        checkpoint(p, dir, true);
        assertEquals("rwx------", mode(dir), "mode of " + dir);
        for (String file : new String[] {IMAGE_FILE, IMAGE_FILE + ".mac"}) {
            assertEquals("rw-------", mode(dir.resolve(file)), "mode of " + file);
            assertEquals(0, Files.getAttribute(dir.resolve(file), "unix:uid"), "owner of " + file);
        }
        try (var files = Files.list(dir)) {
            assertEquals(2, files.count(), "the image and its authentication, nothing partial");
        }
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aPlantedLinkIsNeitherFollowedNorTouched() throws Exception {
        TestProgram p = startReady("procstate");
        Path victim = Files.writeString(tmp.resolve("victim"), "root's secret\n");
        Files.setPosixFilePermissions(victim, PosixFilePermissions.fromString("rw-------"));
        Path dir = Files.createDirectory(tmp.resolve("image"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        for (String name : new String[] {IMAGE_FILE + ".partial", IMAGE_FILE + ".mac.partial"}) {
            Path link = Files.createSymbolicLink(dir.resolve(name), victim);
            assertRefused(p, dir, name);
            assertTrue(Files.isSymbolicLink(link), name + " is still the planted link");
            assertEquals(victim, Files.readSymbolicLink(link));
            Files.delete(link);
        }
        Path open = Files.createDirectory(tmp.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.createSymbolicLink(open.resolve(IMAGE_FILE + ".partial"), victim);
        assertRefused(p, open, "writable by group or others");
        assertEquals("root's secret\n", Files.readString(victim), "the victim's contents");
        assertEquals("rw-------", mode(victim), "the victim's mode");
        assertRunningUntraced(p.pid(), "after the refusals");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aDirectoryOfAnotherUserOrWritableByOthersIsRefused() throws Exception {
        TestProgram p = startReady("procstate");
        Path good = imageDir("good");
        checkpoint(p, good, true);

        Path othersWrite = tmp.resolve("others-write");
        copyDir(good, othersWrite);
        Files.setPosixFilePermissions(othersWrite, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path nobodys = tmp.resolve("nobodys");
        copyDir(good, nobodys);
        Files.setAttribute(nobodys, "unix:uid", NOBODY);
        Path link = Files.createSymbolicLink(tmp.resolve("link"), good);

        assertRefused(p, othersWrite, "writable by group or others");
        assertRefused(p, nobodys, "belongs to uid " + NOBODY);
        assertRefused(p, link, "symbolic link");
        assertRestoreRefused(p, othersWrite, "writable by group or others");
        assertRestoreRefused(p, nobodys, "belongs to uid " + NOBODY);
        assertRestoreRefused(p, link, "symbolic link");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void anImageChangedInOneByteIsRefusedBeforeAnyProcessExists() throws Exception {
        TestProgram p = startReady("procstate");
        Path dir = imageDir("1");
        checkpoint(p, dir, false);
        Path image = dir.resolve(IMAGE_FILE);
        byte[] original = Files.readAllBytes(image);

        // as an attacker would: the process's uid changed, its record's CRC32C made right again
        byte[] changed = original.clone();
        int at = indexOf(changed, "\"uids\":[0,");
        assertTrue(at > 0, "the image names uid 0");
        changed[at + "\"uids\":[".length()] = '1';
        fixChecksumOfRecordAt(changed, at);
        Files.write(image, changed);
        assertRestoreRefused(p, dir, "does not authenticate");
        assertFalse(TestProgram.pidExists(p.pid()), "a process exists at pid " + p.pid());

        Files.delete(dir.resolve(IMAGE_FILE + ".mac"));
        Files.write(image, original);
        assertRestoreRefused(p, dir, "has no authentication");
        assertFalse(TestProgram.pidExists(p.pid()), "a process exists at pid " + p.pid());
    }

    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aPageChangedIsRefusedAndTheStoppedProcessKilledUnrun() throws Exception {
        TestProgram p = startReady("mem");
        Path dir = imageDir("pages");
        checkpoint(p, dir, false);
        Path image = dir.resolve(IMAGE_FILE);
        byte[] changed = Files.readAllBytes(image);

        // past the first chunk: checked on another core while the pages go into the stopped process
        int data = lastPagesRecord(changed) + 8 + 16;
        assertTrue(data >= ImageMac.CHUNK_BYTES, "the last pages lie past the first chunk of the image, at " + data);
        changed[data] ^= 1;
        fixChecksumOfRecordAt(changed, data);
        Files.write(image, changed);
        assertRestoreRefused(p, dir, "does not authenticate");
        p.awaitPidFree(PID_FREE_TIMEOUT);
    }

    private void assertRefused(TestProgram p, Path dir, String naming) {
        RefusedException e = assertThrows(RefusedException.class,
            () -> new CheckpointEngine().checkpoint(p.pid(), dir, new CheckpointOptions(false)));
        assertTrue(e.getMessage().contains(naming), "the refusal names '" + naming + "': " + e.getMessage());
        assertRunningUntraced(p.pid(), "after a refused checkpoint into " + dir);
    }

    private static void assertRestoreRefused(TestProgram p, Path dir, String naming) {
        RefusedException e = assertThrows(RefusedException.class, () -> new RestoreEngine().restore(dir, RestoreOptions.defaults()));
        assertTrue(e.getMessage().contains(naming), "the refusal names '" + naming + "': " + e.getMessage());
    }

    private static String mode(Path file) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS));
    }

    private static int indexOf(byte[] data, String text) {
        byte[] needle = text.getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 0; i + needle.length <= data.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (data[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** Where the last PAGES record (type 3) begins (docs/image-format.md, "Record frame"). */
    private static int lastPagesRecord(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int last = -1;
        for (int record = 12; record < image.length; record += 8 + b.getInt(record + 4) + 4) {
            last = image[record] == 3 ? record : last;
        }
        return last;
    }

    /** Recomputes the CRC32C of the record holding byte {@code at} (docs/image-format.md, "Record frame"). */
    private static void fixChecksumOfRecordAt(byte[] image, int at) {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int record = 12;
        while (record + 8 + b.getInt(record + 4) + 4 <= at) {
            record += 8 + b.getInt(record + 4) + 4;
        }
        int length = b.getInt(record + 4);
        CRC32C crc = new CRC32C();
        crc.update(image, record, 8 + length);
        b.putInt(record + 8 + length, (int) crc.getValue());
    }
}
