package io.pmig.testvm;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One command run in a fresh test-vm guest (test-vm/vm run) with this checkout and the Maven repository
 * shared: its exit status and its output (stdout and stderr together).
 */
record GuestRun(int status, String output) {
    static GuestRun of(Path tmp, long timeoutSeconds, List<String> command) throws Exception {
        Path output = tmp.resolve("guest-output");
        int status = GuestJvm.startCommand(timeoutSeconds, List.of(), command, tmp, output).await();
        return new GuestRun(status, Files.readString(output, StandardCharsets.UTF_8));
    }
}
