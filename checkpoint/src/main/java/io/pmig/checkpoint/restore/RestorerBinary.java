package io.pmig.checkpoint.restore;

import io.pmig.checkpoint.FailedException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Where pmig-restorer is: the {@code pmig.restorer} system property, or the copy built into
 * this jar, written out once to a root-only directory so it can be executed.
 */
public final class RestorerBinary {
    private static final String RESOURCE = "/native/pmig-restorer";
    /** The copy this JVM wrote out or found, and its size: reading the jar again cost every restore a millisecond or more. */
    private static Path installed;
    private static long installedSize;

    private RestorerBinary() {
    }

    public static Path path() {
        String configured = System.getProperty("pmig.restorer");
        if (configured != null && Files.isExecutable(Path.of(configured))) {
            return Path.of(configured);
        }
        return install();
    }

    private static synchronized Path install() {
        try {
            if (installed != null && Files.isExecutable(installed) && Files.size(installed) == installedSize) {
                return installed;
            }
        } catch (IOException gone) {
            // written out again below
        }
        try (InputStream in = RestorerBinary.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new FailedException("pmig-restorer is not built into this jar (" + RESOURCE + "); rebuild with mvn package");
            }
            byte[] bytes = in.readAllBytes();
            Path dir = Path.of(System.getProperty("java.io.tmpdir"), "pmig-" + System.getProperty("user.name"));
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            Path target = dir.resolve("pmig-restorer-" + Integer.toHexString(java.util.Arrays.hashCode(bytes)));
            if (!Files.isExecutable(target) || Files.size(target) != bytes.length) {
                Path tmp = Files.createTempFile(dir, "restorer", ".tmp");
                Files.write(tmp, bytes);
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx------"));
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            installed = target;
            installedSize = bytes.length;
            return target;
        } catch (IOException e) {
            throw new FailedException("cannot install pmig-restorer: " + e.getMessage(), e);
        }
    }
}
