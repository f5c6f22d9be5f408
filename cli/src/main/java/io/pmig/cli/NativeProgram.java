package io.pmig.cli;

import io.pmig.checkpoint.RefusedException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;

/** A program of cli/src/main/c (the lab's init, the demo's service and client), built by the Maven build into target/classes/native. */
public final class NativeProgram {
    private NativeProgram() {
    }

    /** The built program {@code name}; refuses with the command that builds it when it is missing. */
    public static Path path(String name) {
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
