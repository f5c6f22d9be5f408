package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.RefusedException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Which file a path named when the checkpoint was taken: the node shares storage with its
 * peers, so a restore re-opens the path and must find the same file there. Another host's copy
 * has another device and inode, so a file is matched by what it holds ({@code content}, see
 * {@link FileContents}); the same device and inode is only the fast path. {@code content} is
 * null in images written before it existed, and for files that are neither regular nor
 * directories: those are matched by device and inode as before.
 */
public record FileIdentity(String path, long device, long inode, long size, long modifiedNanos, String content) {

    /** The file at {@code path} now, its contents named (read once per version of the file). */
    public static FileIdentity of(Path path) {
        return stat(path).withContent(path);
    }

    /** Refuses unless the path still holds the same contents (mapped code and data, the executable). */
    public void requireUnchanged() {
        requireSame(true);
    }

    /** Refuses unless the path still names the same file; an open file's contents may have moved on. */
    public void requireSameFile() {
        requireSame(false);
    }

    private void requireSame(boolean contentsToo) {
        Path p = Path.of(path);
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new RefusedException(path + " does not exist on this host; the process had it open or mapped. "
                + "Restore needs the same files at the same paths (shared storage)");
        }
        Stat now = stat(p);
        // a directory and a file that took its inode number after it was removed are not one file
        boolean sameFile = now.identity.inode == inode && now.identity.device == device
            && (content == null || content.equals("directory") == Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS));
        if (sameFile && (!contentsToo || now.identity.size == size && now.identity.modifiedNanos == modifiedNanos)) {
            return;
        }
        if (content == null) {
            throw new RefusedException(sameFile
                ? path + " changed since the checkpoint (size " + size + "->" + now.identity.size
                    + "); the process mapped it, so its contents must be the same on restore"
                : path + " is not the file the process had: it was replaced since the checkpoint (inode " + inode + "->"
                    + now.identity.inode + "; the image predates identities by content, so only the same inode will do)");
        }
        String here = now.withContent(p).content;
        if (!content.equals(here)) {
            throw new RefusedException(path + " is not the file the process had: it held " + content
                + " at the checkpoint, and holds " + here + " here. Restore needs the same files at the same paths "
                + "(shared storage or an identical install)");
        }
    }

    private record Stat(FileIdentity identity, FileContents.Version version, boolean regular, boolean directory) {
        FileIdentity withContent(Path path) {
            String content = directory ? FileContents.DIRECTORY : regular ? FileContents.of(path, version) : null;
            return new FileIdentity(identity.path, identity.device, identity.inode, identity.size, identity.modifiedNanos,
                content);
        }
    }

    private static Stat stat(Path path) {
        try {
            Map<String, Object> a = Files.readAttributes(path, "unix:dev,ino,size,lastModifiedTime,ctime,isRegularFile,isDirectory",
                LinkOption.NOFOLLOW_LINKS);
            long modified = ((FileTime) a.get("lastModifiedTime")).to(TimeUnit.NANOSECONDS);
            long changed = ((FileTime) a.get("ctime")).to(TimeUnit.NANOSECONDS);
            FileIdentity identity = new FileIdentity(path.toString(), (Long) a.get("dev"), (Long) a.get("ino"),
                (Long) a.get("size"), modified, null);
            return new Stat(identity, new FileContents.Version(identity.device, identity.inode, identity.size, modified,
                changed), (Boolean) a.get("isRegularFile"), (Boolean) a.get("isDirectory"));
        } catch (IOException e) {
            throw new RefusedException(path + " cannot be examined: " + e.getMessage(), e);
        }
    }
}
