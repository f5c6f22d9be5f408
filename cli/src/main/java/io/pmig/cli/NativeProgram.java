package io.pmig.cli;

import io.pmig.checkpoint.RefusedException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A program of cli/src/main/c (the lab's init, the demo's service and client), built by the Maven
 * build into target/classes/native: found in the directory {@value #DIRECTORY_VARIABLE} names (the
 * launchers set it, and the pmig processes they start inherit it), else among the classes.
 */
public final class NativeProgram {
    static final String DIRECTORY_VARIABLE = "PMIG_PROGRAMS";

    private NativeProgram() {
    }

    /** The built program {@code name}; refuses with the command that builds it when it is missing. */
    public static Path path(String name) {
        String directory = System.getenv(DIRECTORY_VARIABLE);
        if (directory != null && Files.isExecutable(Path.of(directory, name))) {
            return Path.of(directory, name);
        }
        String resource = "/native/" + name;
        URL url = NativeProgram.class.getResource(resource);
        Path path = null;
        if (url != null && url.getProtocol().equals("file")) {
            try {
                path = Path.of(url.toURI());
            } catch (URISyntaxException e) {
                path = null;
            }
        }
        if (path == null || !Files.isExecutable(path)) {
            throw new RefusedException(name + " is not built (no " + resource
                    + " among the classes): run mvn -q -B package -DskipTests (it needs gcc, make and libc6-dev)");
        }
        return path;
    }
}
