package io.pmig.testvm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A test-vm guest (test-vm/vm run) that runs a main of this module's test classpath on Debian's 6.1 kernel, with the
 * checkout and the Maven repository shared (the guest's JVM reads the same classes and jars), its output to a file.
 */
final class GuestJvm {
    private final Process vm;
    private final long timeoutSeconds;

    private GuestJvm(Process vm, long timeoutSeconds) {
        this.vm = vm;
        this.timeoutSeconds = timeoutSeconds;
    }

    /**
     * Boots a guest that runs {@code launcher} (a command put before java: setpriv..., or none) java {@code main}
     * {@code args}; {@code shares}: more host directories it reads; {@code runs}: where the harness makes its run
     * directory (TMPDIR); the output goes to {@code output}. The harness kills the guest after {@code timeoutSeconds}.
     */
    static GuestJvm start(long timeoutSeconds, List<Path> shares, List<String> launcher, String main, List<String> args, Path runs,
                          Path output) throws IOException {
        List<String> command = new ArrayList<>(launcher);
        // C1 only and the serial collector: JIT and GC threads compete for the two emulated CPUs
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-cp", System.getProperty("java.class.path"),
            "-Dpmig.testPrograms=" + System.getProperty("pmig.testPrograms"),
            "-Dpmig.restorer=" + System.getProperty("pmig.restorer"),
            main));
        command.addAll(args);
        return startCommand(timeoutSeconds, shares, command, runs, output);
    }

    /** Boots a guest that runs {@code command}, as {@link #start} does for a main. */
    static GuestJvm startCommand(long timeoutSeconds, List<Path> shares, List<String> command, Path runs, Path output) throws IOException {
        List<String> vm = new ArrayList<>(List.of(System.getProperty("pmig.vm"), "run",
            "--timeout", Long.toString(timeoutSeconds),
            "--share", System.getProperty("pmig.checkout"),
            "--share", System.getProperty("pmig.mavenRepository")));
        for (Path share : shares) {
            vm.addAll(List.of("--share", share.toString()));
        }
        vm.add("--");
        vm.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(vm).redirectErrorStream(true).redirectOutput(output.toFile());
        builder.environment().put("TMPDIR", runs.toString()); // the harness's run directory goes with the test's
        return new GuestJvm(builder.start(), timeoutSeconds);
    }

    boolean isAlive() {
        return vm.isAlive();
    }

    /** Waits for the guest to end; returns the harness's exit status (the command's in the guest, or 124, 125). */
    int await() throws InterruptedException {
        try {
            // the harness kills the guest at its own timeout; this one is for a harness that hangs
            assertTrue(vm.waitFor(timeoutSeconds + 60, TimeUnit.SECONDS), "test-vm/vm run did not end");
            return vm.exitValue();
        } finally {
            vm.destroy(); // the harness kills its qemu as it ends
            vm.waitFor(10, TimeUnit.SECONDS);
            vm.destroyForcibly();
        }
    }
}
