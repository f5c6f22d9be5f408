package io.pmig.checkpoint.memory;

import io.pmig.checkpoint.RefusedException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a file holds, named so that a byte-identical file on another filesystem (another host's
 * disk, a fresh copy with a new inode) has the same name: an ELF file's build-id (read from its
 * headers alone), else {@code sha256:} of every byte; a directory is just {@code directory}.
 * Hashing is paid once per version of a file: results are kept by device, inode, size, mtime
 * and ctime, so pre-copy rounds and repeated checkpoints read nothing again.
 */
final class FileContents {
    /** The file as stat(2) saw it; a change to any of these may be a change of contents. */
    record Version(long device, long inode, long size, long modifiedNanos, long changedNanos) {
    }

    static final String DIRECTORY = "directory";
    private static final int CACHED = 4096;
    private static final Map<Version, String> CACHE = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Version, String> eldest) {
            return size() > CACHED;
        }
    };

    // ELF (include/uapi/linux/elf.h)
    private static final int PT_NOTE = 4;
    private static final int NT_GNU_BUILD_ID = 3;
    private static final int ELFCLASS64 = 2;
    private static final int ELFDATA2MSB = 2;
    private static final int MAX_NOTES = 1 << 16;

    private FileContents() {
    }

    /** The contents' name of the regular file at {@code path}, whose stat is {@code version}. */
    static String of(Path path, Version version) {
        synchronized (CACHE) {
            String known = CACHE.get(version);
            if (known != null) {
                return known;
            }
        }
        String name;
        try (FileChannel file = FileChannel.open(path, StandardOpenOption.READ)) {
            String buildId = elfBuildId(file);
            name = buildId != null ? "build-id:" + buildId : "sha256:" + sha256(file);
        } catch (IOException e) {
            throw new RefusedException(path + " cannot be read to identify its contents: " + e.getMessage(), e);
        }
        synchronized (CACHE) {
            CACHE.put(version, name);
        }
        return name;
    }

    /** The NT_GNU_BUILD_ID note of an ELF file's PT_NOTE segments, in hex; null if not ELF or none. */
    private static String elfBuildId(FileChannel file) throws IOException {
        ByteBuffer header = read(file, 0, 64);
        if (header.remaining() < 52 || header.getInt(0) != 0x7f454c46) {
            return null;
        }
        boolean wide = header.get(4) == ELFCLASS64;
        header.order(header.get(5) == ELFDATA2MSB ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        long phoff = wide ? header.getLong(0x20) : Integer.toUnsignedLong(header.getInt(0x1c));
        int phentsize = Short.toUnsignedInt(header.getShort(wide ? 0x36 : 0x2a));
        int phnum = Short.toUnsignedInt(header.getShort(wide ? 0x38 : 0x2c));
        if (phentsize < (wide ? 56 : 32) || phnum == 0) {
            return null;
        }
        ByteBuffer table = read(file, phoff, phentsize * phnum).order(header.order());
        for (int i = 0; i + phentsize <= table.limit(); i += phentsize) {
            if (table.getInt(i) != PT_NOTE) {
                continue;
            }
            long offset = wide ? table.getLong(i + 8) : Integer.toUnsignedLong(table.getInt(i + 4));
            long size = wide ? table.getLong(i + 32) : Integer.toUnsignedLong(table.getInt(i + 16));
            long align = wide ? table.getLong(i + 48) : Integer.toUnsignedLong(table.getInt(i + 28));
            if (size <= 0 || size > MAX_NOTES || offset < 0) {
                continue;
            }
            String id = buildIdNote(read(file, offset, (int) size).order(header.order()), align == 8 ? 8 : 4);
            if (id != null) {
                return id;
            }
        }
        return null;
    }

    private static String buildIdNote(ByteBuffer notes, int align) {
        int at = 0;
        while (at + 12 <= notes.limit()) {
            int nameSize = notes.getInt(at);
            int descSize = notes.getInt(at + 4);
            int type = notes.getInt(at + 8);
            int name = at + 12;
            int desc = name + roundUp(nameSize, align);
            if (nameSize < 0 || descSize < 0 || desc < 0 || desc + descSize > notes.limit()) {
                return null;
            }
            if (type == NT_GNU_BUILD_ID && nameSize == 4 && notes.getInt(name) == (notes.order() == ByteOrder.BIG_ENDIAN
                    ? 0x474e5500 : 0x00554e47) && descSize > 0) {
                byte[] id = new byte[descSize];
                notes.get(desc, id);
                return HexFormat.of().formatHex(id);
            }
            at = desc + roundUp(descSize, align);
        }
        return null;
    }

    private static int roundUp(int n, int align) {
        return (n + align - 1) & -align;
    }

    private static ByteBuffer read(FileChannel file, long offset, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining() && file.read(buffer, offset + buffer.position()) > 0) {
            // a short read goes on where it stopped
        }
        return buffer.flip();
    }

    private static String sha256(FileChannel file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
        file.position(0);
        while (file.read(buffer) > 0) {
            digest.update(buffer.flip());
            buffer.clear();
        }
        return HexFormat.of().formatHex(digest.digest());
    }
}
