package io.pmig.checkpoint.memory;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.proc.ProcFs;
import io.pmig.nativeio.Syscall;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link MemoryDumper#mappings()} of a running process that maps and unmaps a file all the time, as a pre-copy round
 * reads a server that maps a file per request (Apache's event MPM did, and a round failed on the statfs of a
 * map_files link gone meanwhile): a mapping that vanishes while examined is read again, never an error.
 */
class ChangingMappingsTest {
    private static final int READINGS = 150;

    @TempDir
    Path tmp;

    @Test
    void aMappingUnmappedWhileExaminedIsReadAgain() throws Exception {
        Path file = tmp.resolve("mapped-per-request");
        Files.write(file, new byte[MemoryDumper.PAGE]);
        MemoryDumper self = new MemoryDumper(new ProcFs((int) ProcessHandle.current().pid()));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong cycles = new AtomicLong();
        Thread remapper = new Thread(() -> {
            int fd = Linux.open(file.toString(), Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
            try {
                while (!stop.get()) {
                    long at = Syscall.call("mmap", Nr.MMAP, 0, MemoryDumper.PAGE, Linux.PROT_READ, Linux.MAP_PRIVATE, fd, 0);
                    Syscall.call("munmap", Nr.MUNMAP, at, MemoryDumper.PAGE);
                    cycles.incrementAndGet();
                }
            } finally {
                Linux.close(fd);
            }
        }, "remapper");
        remapper.start();
        int seen = 0;
        try {
            for (int i = 0; i < READINGS; i++) {
                boolean listed = self.mappings().stream().anyMatch(m -> m.name().equals(file.toString()));
                seen += listed ? 1 : 0;
            }
        } finally {
            stop.set(true);
            remapper.join();
        }
        assertTrue(cycles.get() > READINGS, "the file was mapped and unmapped while the mappings were read: " + cycles.get());
        assertFalse(remapper.isAlive());
        System.out.println("the changing mapping was listed in " + seen + " of " + READINGS + " readings");
    }
}
