package io.pmig.checkpoint.proc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MapsEntryTest {
    @Test
    void fileMapping() {
        MapsEntry e = MapsEntry.parse("7f0d0a2e4000-7f0d0a2e6000 r-xp 00034000 fd:01 1234567                    /usr/lib/x86_64-linux-gnu/libc.so.6");
        assertEquals(0x7f0d0a2e4000L, e.start());
        assertEquals(0x2000, e.length());
        assertEquals(0x34000, e.offset());
        assertEquals(0xfd, e.devMajor());
        assertEquals(1, e.devMinor());
        assertEquals(1234567, e.inode());
        assertEquals("/usr/lib/x86_64-linux-gnu/libc.so.6", e.path());
        assertTrue(e.readable() && e.executable() && !e.writable() && !e.shared());
        assertTrue(e.fileBacked());
    }

    @Test
    void anonymousWithoutName() {
        MapsEntry e = MapsEntry.parse("7ffd1000-7ffd3000 rw-p 00000000 00:00 0");
        assertEquals("", e.path());
        assertFalse(e.fileBacked());
        assertFalse(e.kernelSpecial());
    }

    @Test
    void specialAndSharedAndPathsWithSpaces() {
        assertTrue(MapsEntry.parse("7ffe1000-7ffe3000 r-xp 00000000 00:00 0    [vdso]").kernelSpecial());
        assertTrue(MapsEntry.parse("7ffe0000-7ffe1000 r--p 00000000 00:00 0    [vvar_vclock]").kernelSpecial());
        assertFalse(MapsEntry.parse("55aa0000-55ab0000 rw-p 00000000 00:00 0    [heap]").fileBacked());
        MapsEntry shm = MapsEntry.parse("7f0000000000-7f0000100000 rw-s 00000000 00:01 2048   /dev/zero (deleted)");
        assertTrue(shm.shared());
        assertEquals("/dev/zero (deleted)", shm.path());
        assertEquals("/data/my file.bin", MapsEntry.parse("1000-2000 r--p 00000000 08:01 77   /data/my file.bin").path());
    }

    @Test
    void upperHalfAddressesParseUnsigned() {
        MapsEntry e = MapsEntry.parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0   [vsyscall]");
        assertEquals(0x1000, e.length());
    }

    @Test
    void garbageIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> MapsEntry.parse("not a maps line"));
    }
}
