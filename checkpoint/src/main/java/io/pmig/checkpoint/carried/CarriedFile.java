package io.pmig.checkpoint.carried;

import io.pmig.checkpoint.image.ImageKind;

import java.util.List;

/**
 * A file whose contents travel in the image because no other host has it: a file on tmpfs (POSIX shared memory in
 * /dev/shm, /run, a tmpfs /tmp), a file deleted while open, a memfd. Saved once per file of a tree, in the image of
 * the first process that holds or maps it, and named by {@code key} (device:inode at the checkpoint) by every
 * descriptor and mapping of it. {@code path}: where a tmpfs file is, where a deleted file was, a memfd's name.
 * {@code mode}: the permission bits; {@code seals}: a memfd's F_GET_SEALS (0 otherwise). {@code bootId}: the
 * checkpointing host's boot (/proc/sys/kernel/random/boot_id), which with {@code key} tells the very file on a
 * restore where it came from. {@code content}: the bytes in pieces of at most {@link #PIECE} (a JSON reader takes
 * strings of up to 20 million characters, and a piece is one base64 string).
 */
@ImageKind("file.carried")
public record CarriedFile(String key, Kind type, String path, int mode, int uid, int gid, int seals, String bootId,
                          List<byte[]> content) {
    public static final int PIECE = 8 << 20;

    public enum Kind {
        /** a file with a name on tmpfs: it is used where it is if it holds the same bytes, created there if missing */
        TMPFS,
        /** a file deleted while open: recreated unnamed (O_TMPFILE in its directory, else a memfd) */
        DELETED,
        /** memfd_create(2): recreated with its name and seals */
        MEMFD
    }

    /** The file's size: all its bytes. */
    public long size() {
        return content.stream().mapToLong(piece -> piece.length).sum();
    }

    /** What to call it in messages. */
    public String describe() {
        return switch (type) {
            case TMPFS -> "tmpfs file " + path;
            case DELETED -> "deleted file " + path;
            case MEMFD -> "memfd " + path;
        };
    }
}
