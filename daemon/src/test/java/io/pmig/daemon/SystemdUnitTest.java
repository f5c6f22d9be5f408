package io.pmig.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.daemon.config.DaemonConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shipped unit (daemon/src/main/dist/pmigd.service): what systemd makes of it, and its paths against pmigd's defaults. */
class SystemdUnitTest {
    private static final Path UNIT = Path.of("src/main/dist/pmigd.service");

    private static List<String> lines() throws IOException {
        return Files.readAllLines(UNIT);
    }

    private static String setting(String key) throws IOException {
        List<String> values = lines().stream().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1)).toList();
        assertEquals(1, values.size(), key + " is set once: " + values);
        return values.get(0);
    }

    @Test
    void aStopOrRestartKillsNoMigratedServiceAndKeepsTheJournal() throws IOException {
        assertEquals("process", setting("KillMode"), "the services migrated here are pmigd's children: a stop kills pmigd alone");
        assertEquals("notify", setting("Type"), "ready once the control socket takes requests (pmigd sends READY=1)");
        assertEquals("main", setting("NotifyAccess"));
        assertEquals(Path.of("/var/lib", setting("StateDirectory")), DaemonConfig.DEFAULT_STATE_DIRECTORY,
            "the journal lives in the StateDirectory, which a restart keeps");
        Path runtime = Path.of("/run", setting("RuntimeDirectory"));
        assertEquals(runtime, DaemonConfig.DEFAULT_CONTROL_SOCKET.getParent(), "the control socket lives in the RuntimeDirectory");
        assertFalse(DaemonConfig.DEFAULT_STATE_DIRECTORY.startsWith(runtime), "systemd empties the RuntimeDirectory at every stop");
    }

    /** systemd-analyze verify, with ExecStart pointing at this repository's bin/pmigd (it checks the executable exists). */
    @Test
    void systemdAnalyzeFindsNothingToSay(@TempDir Path dir) throws Exception {
        Path analyze = Path.of("/usr/bin/systemd-analyze");
        assumeTrue(Files.isExecutable(analyze), "systemd-analyze is installed");
        Path unit = dir.resolve("pmigd.service");
        Files.writeString(unit, Files.readString(UNIT).replace("/opt/pmig/bin/pmigd", Path.of("../bin/pmigd").toAbsolutePath().normalize()
            .toString()));
        Process verify = new ProcessBuilder(analyze.toString(), "verify", unit.toString()).redirectErrorStream(true).start();
        String out = new String(verify.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        verify.waitFor(60, TimeUnit.SECONDS);
        assertEquals(0, verify.exitValue(), out);
        assertEquals("", out.strip(), "systemd-analyze verify warns about nothing");
    }
}
