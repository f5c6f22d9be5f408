package io.pmig.checkpoint.imagedir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** Points {@link NodeKey} at a key file (not made yet) in a new directory for each test, and back afterwards. */
final class TemporaryNodeKey implements BeforeEachCallback, AfterEachCallback {
    private String saved;
    private Path dir;

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        saved = System.getProperty(NodeKey.PROPERTY);
        dir = Files.createTempDirectory("pmig-node-key");
        System.setProperty(NodeKey.PROPERTY, dir.resolve("lib").resolve("image.key").toString());
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        if (saved == null) {
            System.clearProperty(NodeKey.PROPERTY);
        } else {
            System.setProperty(NodeKey.PROPERTY, saved);
        }
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
