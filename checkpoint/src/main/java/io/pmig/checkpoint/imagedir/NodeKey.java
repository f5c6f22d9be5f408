package io.pmig.checkpoint.imagedir;

import io.pmig.checkpoint.RefusedException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Set;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The node's image key: 32 random bytes in a file only root may read (0600, root's), made on first use.
 * Every image file a checkpoint writes carries an HMAC-SHA256 under it, and a restore from a file takes
 * only an image it authenticates, so an edited image (another uid, capabilities, paths, exe) or one
 * made elsewhere is refused. Nodes that restore each other's image files share the key file.
 *
 * <p>Where: the system property {@value #PROPERTY}, else the environment variable {@value #ENVIRONMENT},
 * else {@code /var/lib/pmig/image.key}.
 */
public final class NodeKey {
    public static final String PROPERTY = "pmig.imageKey";
    public static final String ENVIRONMENT = "PMIG_IMAGE_KEY";
    public static final Path DEFAULT = Path.of("/var/lib/pmig/image.key");
    private static final String ALGORITHM = "HmacSHA256";
    private static final int SIZE = 32;
    private static final byte[] CHUNK_CIPHER_LABEL = "pmig image chunk cipher key".getBytes(StandardCharsets.US_ASCII);

    private final Path file;
    private final SecretKeySpec key;
    /** The AES-256 key of image chunks ({@link ImageMac}): the HMAC of a label under this key, never this key itself. */
    private final SecretKeySpec chunkCipherKey;

    private NodeKey(Path file, byte[] key) {
        this.file = file;
        this.key = new SecretKeySpec(key, ALGORITHM);
        this.chunkCipherKey = new SecretKeySpec(newMac().doFinal(CHUNK_CIPHER_LABEL), "AES");
    }

    /** The key file this process uses. */
    public static Path configuredPath() {
        String property = System.getProperty(PROPERTY);
        if (property != null && !property.isBlank()) {
            return Path.of(property);
        }
        String environment = System.getenv(ENVIRONMENT);
        return environment != null && !environment.isBlank() ? Path.of(environment) : DEFAULT;
    }

    /** For a checkpoint: the configured key, made (0600, in a 0700 directory if that is new) if there is none yet. */
    public static NodeKey loadOrCreate() {
        Path file = configuredPath();
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            create(file);
        }
        return load(file);
    }

    /** For a restore: the configured key, which must exist (a node without one made no image). */
    public static NodeKey load() {
        return load(configuredPath());
    }

    public Path file() {
        return file;
    }

    /** A fresh HMAC-SHA256 under this key. */
    public Mac newMac() {
        try {
            Mac mac = Mac.getInstance(ALGORITHM);
            mac.init(key);
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK has no " + ALGORITHM, e);
        }
    }

    /** The AES-256 key image chunks are tagged under, derived from this key. */
    SecretKeySpec chunkCipherKey() {
        return chunkCipherKey;
    }

    private static NodeKey load(Path file) {
        PosixFileAttributes attributes;
        try {
            attributes = Files.readAttributes(file, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            throw new RefusedException("this node has no image key (" + file + "), so it made no image it could authenticate;"
                + " restore image files on the node that made them, or give this node that node's key file");
        } catch (IOException e) {
            throw new RefusedException("cannot read the image key " + file + ": " + e.getMessage(), e);
        }
        int me = ImageDirectory.effectiveUid();
        Set<PosixFilePermission> permissions = attributes.permissions();
        boolean private0600 = permissions.stream().allMatch(p -> p == PosixFilePermission.OWNER_READ || p == PosixFilePermission.OWNER_WRITE);
        if (!attributes.isRegularFile() || ImageDirectory.ownerUid(file) != me || !private0600 || attributes.size() != SIZE) {
            throw new RefusedException("the image key " + file + " must be a regular file of uid " + me + " (root), mode 0600, of "
                + SIZE + " bytes, and is not (" + (attributes.isSymbolicLink() ? "a symbolic link" : PosixFilePermissions.toString(permissions)
                + ", uid " + ImageDirectory.ownerUid(file) + ", " + attributes.size() + " bytes") + "); fix it, or remove it to have"
                + " a new one made (images made under the old key are then refused)");
        }
        try {
            return new NodeKey(file, Files.readAllBytes(file));
        } catch (IOException e) {
            throw new RefusedException("cannot read the image key " + file + ": " + e.getMessage(), e);
        }
    }

    /** Writes a new key under a temporary name and links it in place, so no reader sees half a key and no key is replaced. */
    private static void create(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        Path temporary = dir.resolve(file.getFileName() + "." + ProcessHandle.current().pid() + ".new");
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            byte[] bytes = new byte[SIZE];
            new SecureRandom().nextBytes(bytes);
            try (FileChannel out = ImageDirectory.createNew(temporary)) {
                out.write(ByteBuffer.wrap(bytes));
                out.force(true);
            }
            Files.createLink(file, temporary);
        } catch (FileAlreadyExistsException raced) {
            // another pmig made it meanwhile: that one is the key
        } catch (IOException e) {
            throw new RefusedException("cannot create the image key " + file + ": " + e.getMessage()
                + "; set " + ENVIRONMENT + " to a file root may create", e);
        } finally {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException ignored) {
                // a stray temporary file holds a key nobody uses
            }
        }
    }
}
