package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** pmig-client answers --version itself, with no JVM: the same line as the JVM's pmig --version. */
class PmigClientVersionTest {
    private static final Path CLIENT = Path.of("target/classes/native/pmig-client");

    @ParameterizedTest
    @ValueSource(strings = {"--version", "-V"})
    void theClientPrintsTheVersionTheJvmPrints(String option) throws Exception {
        Process client = new ProcessBuilder(CLIENT.toAbsolutePath().toString(), option).redirectErrorStream(true).start();
        String printed = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(client.waitFor(30, TimeUnit.SECONDS), "pmig-client answered");
        assertEquals(0, client.exitValue(), printed);
        assertEquals(new Pmig.Version().getVersion()[0] + "\n", printed);
    }
}
