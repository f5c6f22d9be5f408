package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.nativeio.Linux;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The shared anonymous memory of a tree being restored (MAP_SHARED|MAP_ANONYMOUS inherited across fork: Apache's
 * scoreboard, nginx's zones): the first process that maps an object creates it; every later one maps that same object,
 * which the engine opens from the first one's {@code /proc/PID/map_files} and hands over (pidfd_getfd). The engine's
 * descriptors stay open until the restore ends.
 */
public final class SharedAnonymousMemory implements AutoCloseable {
    /** The mapping that created an object, in the process (host pid) that holds it. */
    private record Creator(int hostPid, MappingImage mapping) {
    }

    /** An object another process created: the engine's descriptor of it, and where {@code m} starts in it. */
    record Existing(int fd, long offset) {
    }

    private final Map<Long, Creator> creators = new HashMap<>();
    private final Map<Long, Integer> opened = new HashMap<>();

    /** The object mapping {@code m} shares with a process restored before, or null if {@code m} is to create it. */
    Existing existing(MappingImage m) {
        Creator c = m.sharedObject() == 0 ? null : creators.get(m.sharedObject());
        if (c == null) {
            return null;
        }
        long offset = m.fileOffset() - c.mapping().fileOffset();
        if (offset < 0 || offset + m.length() > c.mapping().length()) {
            throw new FailedException("shared memory (inode " + m.sharedObject() + ") is mapped at 0x" + Long.toHexString(m.start())
                + " beyond the part of it the first process mapped (0x" + Long.toHexString(c.mapping().start())
                + "), which this restore cannot share again");
        }
        int fd = opened.computeIfAbsent(m.sharedObject(), k -> Linux.open("/proc/" + c.hostPid() + "/map_files/"
            + Long.toHexString(c.mapping().start()) + "-" + Long.toHexString(c.mapping().end()), Linux.O_RDWR | Linux.O_CLOEXEC, 0));
        return new Existing(fd, offset);
    }

    /** Records the shared anonymous objects process {@code hostPid} created with {@code mappings}, for the processes after it. */
    void created(int hostPid, List<MappingImage> mappings) {
        for (MappingImage m : mappings) {
            if (m.backing() == MappingImage.Backing.SHARED_ANONYMOUS && m.sharedObject() != 0) {
                creators.putIfAbsent(m.sharedObject(), new Creator(hostPid, m));
            }
        }
    }

    @Override
    public void close() {
        opened.values().forEach(Linux::close);
        opened.clear();
    }
}
