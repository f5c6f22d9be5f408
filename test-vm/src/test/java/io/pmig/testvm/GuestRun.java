package io.pmig.testvm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One command run in a fresh test-vm guest (test-vm/vm run) with this checkout and the Maven repository
 * shared: its exit status and its output (stdout and stderr together).
 */
record GuestRun(int status, String output) {
    static GuestRun of(Path tmp, long timeoutSeconds, List<String> command) throws Exception {
        List<String> vm = new ArrayList<>(List.of(System.getProperty("pmig.vm"), "run",
            "--timeout", Long.toString(timeoutSeconds),
            "--share", System.getProperty("pmig.checkout"),
            "--share", System.getProperty("pmig.mavenRepository"),
            "--"));
        vm.addAll(command);
        Path output = tmp.resolve("guest-output");
        ProcessBuilder builder = new ProcessBuilder(vm).redirectErrorStream(true).redirectOutput(output.toFile());
        builder.environment().put("TMPDIR", tmp.toString()); // the harness's run directory goes with the test's
        Process harness = builder.start();
        int status;
        try {
            // the harness kills the guest at its own timeout; this one is for a harness that hangs
            assertTrue(harness.waitFor(timeoutSeconds + 60, TimeUnit.SECONDS), "test-vm/vm run did not end");
            status = harness.exitValue();
        } finally {
            harness.destroy(); // the harness kills its qemu as it ends
            harness.waitFor(10, TimeUnit.SECONDS);
            harness.destroyForcibly();
        }
        return new GuestRun(status, Files.readString(output, StandardCharsets.UTF_8));
    }
}
