package io.pmig.cli.lab;

import io.pmig.checkpoint.RefusedException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The lock that makes {@code pmig lab up} and {@code pmig lab down} take turns, so that an up that
 * fails and removes what it built never removes what another up built. The lock file,
 * /run/lock/NAME.lock, stays: /run is emptied at boot.
 */
final class LabLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private LabLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Waits for the lab's lock. */
    static LabLock take(LabLayout layout) {
        Path file = file(layout);
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            return new LabLock(channel, channel.lock());
        } catch (IOException e) {
            closeQuietly(channel);
            throw new RefusedException("cannot lock " + file + ": " + e, e);
        }
    }

    static Path file(LabLayout layout) {
        Path lockDirectory = Path.of("/run/lock");
        return (Files.isDirectory(lockDirectory) ? lockDirectory : Path.of("/run")).resolve(layout.name() + ".lock");
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            // closing the channel releases it too
        }
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                // nothing more to release
            }
        }
    }
}
