package io.pmig.checkpoint.imagedir;

import io.pmig.checkpoint.RefusedException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;

/**
 * The authentication of an image file: the HMAC-SHA256 of every byte of {@code image.pmig} under the
 * node key ({@link NodeKey}), kept next to it in {@code image.pmig.mac} as one line
 * {@code hmac-sha256 <64 hex digits>} (docs/image-format.md, "Authentication of image files").
 */
public final class ImageMac {
    public static final String SUFFIX = ".mac";
    private static final String PREFIX = "hmac-sha256 ";
    private static final int READ_CHUNK = 1 << 20;
    /** The length of the one line: the prefix, 64 hex digits and a newline. */
    private static final int LINE_BYTES = PREFIX.length() + 65;

    private ImageMac() {
    }

    /** Feeds every byte of {@code file} (not followed if a link) to {@code mac}. */
    public static void update(Mac mac, Path file) throws IOException {
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(READ_CHUNK);
            while (in.read(buffer.clear()) >= 0) {
                mac.update(buffer.flip());
            }
        }
    }

    /** Gives {@code out}, a file {@link ImageDirectory#createNew made new}, the size of an authentication line, for {@link #write}. */
    public static void reserve(FileChannel out) throws IOException {
        writeAt0(out, ByteBuffer.wrap(PREFIX.getBytes(StandardCharsets.US_ASCII)), LINE_BYTES);
    }

    /** Writes the finished {@code mac} into {@code out} (a file made new, {@link #reserve reserved} or not); leaves it open. */
    public static void write(FileChannel out, Mac mac) throws IOException {
        byte[] line = (PREFIX + HexFormat.of().formatHex(mac.doFinal()) + "\n").getBytes(StandardCharsets.US_ASCII);
        writeAt0(out, ByteBuffer.wrap(line), line.length);
        out.force(true);
    }

    /** Writes {@code bytes} at the start of {@code out}, zeros after them up to {@code length}. */
    private static void writeAt0(FileChannel out, ByteBuffer bytes, int length) throws IOException {
        ByteBuffer all = ByteBuffer.allocate(length).put(bytes).position(0);
        for (long at = 0; all.hasRemaining(); ) {
            at += out.write(all, at);
        }
    }

    /**
     * Refuses {@code image} unless {@code image}.mac holds the HMAC of its bytes under {@code key}: it was
     * written by a checkpoint on a node with this key, and not changed since.
     */
    public static void verify(Path image, NodeKey key) {
        Path macFile = image.resolveSibling(image.getFileName() + SUFFIX);
        String stored;
        try {
            stored = Files.readString(macFile, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new RefusedException("the image " + image + " has no authentication (" + macFile + "), so pmig will not restore"
                + " it: make images with pmig checkpoint, which writes it");
        } catch (IOException e) {
            throw new RefusedException("cannot read " + macFile + ": " + e.getMessage(), e);
        }
        if (!stored.startsWith(PREFIX) || !stored.endsWith("\n") || stored.length() != PREFIX.length() + 65
            || !stored.substring(PREFIX.length(), stored.length() - 1).matches("[0-9a-f]{64}")) {
            throw new RefusedException(macFile + " is not an image authentication (one line: hmac-sha256 and 64 hex digits)");
        }
        byte[] expected = HexFormat.of().parseHex(stored, PREFIX.length(), stored.length() - 1);
        Mac mac = key.newMac();
        try {
            update(mac, image);
        } catch (IOException e) {
            throw new RefusedException("cannot read the image " + image + ": " + e.getMessage(), e);
        }
        if (!MessageDigest.isEqual(expected, mac.doFinal())) {
            throw new RefusedException("the image " + image + " does not authenticate with this node's key " + key.file()
                + ": it was changed after pmig checkpoint wrote it, or made on a node with another key; pmig will not restore it");
        }
    }
}
