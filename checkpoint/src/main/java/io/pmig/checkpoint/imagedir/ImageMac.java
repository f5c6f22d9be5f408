package io.pmig.checkpoint.imagedir;

import io.pmig.checkpoint.RefusedException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
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

    private ImageMac() {
    }

    /** {@code out}, with every byte written to it also fed to {@code mac}. */
    public static WritableByteChannel authenticating(WritableByteChannel out, Mac mac) {
        return new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) throws IOException {
                ByteBuffer written = src.duplicate();
                int n = out.write(src);
                mac.update(written.limit(written.position() + n));
                return n;
            }

            @Override
            public boolean isOpen() {
                return out.isOpen();
            }

            @Override
            public void close() throws IOException {
                out.close();
            }
        };
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

    /** Writes the finished {@code mac} into {@code out}, a file {@link ImageDirectory#createNew made new}; leaves it open. */
    public static void write(FileChannel out, Mac mac) throws IOException {
        ByteBuffer line = ByteBuffer.wrap((PREFIX + HexFormat.of().formatHex(mac.doFinal()) + "\n").getBytes(StandardCharsets.US_ASCII));
        while (line.hasRemaining()) {
            out.write(line);
        }
        out.force(true);
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
