package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.RefusedException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;

/**
 * Which file a path named when the checkpoint was taken: the node shares storage with its
 * peers, so a restore re-opens the path and must find the same file there.
 */
public record FileIdentity(String path, long device, long inode, long size, long modifiedNanos) {

    public static FileIdentity of(Path path) {
        try {
            Map<String, Object> a = Files.readAttributes(path, "unix:dev,ino,size,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
            FileTime mtime = (FileTime) a.get("lastModifiedTime");
            return new FileIdentity(path.toString(), (Long) a.get("dev"), (Long) a.get("ino"), (Long) a.get("size"),
                mtime.to(java.util.concurrent.TimeUnit.NANOSECONDS));
        } catch (IOException e) {
            throw new RefusedException(path + " cannot be examined: " + e.getMessage(), e);
        }
    }

    /** Refuses unless the path still names the same file with the same contents (mapped code and data). */
    public void requireUnchanged() {
        FileIdentity now = current();
        if (now.size != size || now.modifiedNanos != modifiedNanos) {
            throw new RefusedException(path + " changed since the checkpoint (size " + size + "->" + now.size
                + "); the process mapped it, so its contents must be the same on restore");
        }
    }

    /** Refuses unless the path still names the same file; an open file's contents may have moved on. */
    public FileIdentity current() {
        Path p = Path.of(path);
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new RefusedException(path + " does not exist on this host; the process had it open or mapped. "
                + "Restore needs the same files at the same paths (shared storage)");
        }
        FileIdentity now = of(p);
        if (now.inode != inode || now.device != device) {
            throw new RefusedException(path + " is not the file the process had: it was replaced since the checkpoint "
                + "(inode " + inode + "->" + now.inode + ")");
        }
        return now;
    }
}
