package io.pmig.cli.lab;

import io.pmig.checkpoint.RefusedException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;

/** pmig-lab-init, PID 1 of every node (cli/src/main/c/pmig-lab-init.c), built by the Maven build into target/classes/native. */
final class LabInit {
    private static final String RESOURCE = "/native/pmig-lab-init";

    private LabInit() {
    }

    /** The built program; refuses with the command that builds it when it is missing. */
    static Path binary() {
        URL url = LabInit.class.getResource(RESOURCE);
        Path path = null;
        if (url != null && url.getProtocol().equals("file")) {
            try {
                path = Path.of(url.toURI());
            } catch (URISyntaxException e) {
                path = null;
            }
        }
        if (path == null || !Files.isExecutable(path)) {
            throw new RefusedException("pmig-lab-init is not built (no " + RESOURCE
                    + " among the classes): run mvn -q -B package -DskipTests (it needs gcc, make and libc6-dev)");
        }
        return path;
    }
}
