package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An offline checkpoint of a service with a connected client (stream-server on node-a, stream-client in
 * the client host checking every byte), then a restore on the same node: the client's packets are held
 * from the freeze until the restore takes the connection over, so it sees no reset, no EOF and no wrong
 * byte (it used to be reset by the closed socket). {@code pmig restore --unlock} lets them go instead.
 */
@ExtendWith(FreshLab.class)
class OfflineCheckpointTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(150)
    void theClientHearsNothingUntilTheRestoreTakesItsConnectionOver() throws Exception {
        StreamClient client = checkpointWithAClientConnected();
        Run restore = pmigIn("node-a", "restore", "--dir", image().toString());
        assertEquals(ExitCodes.OK, restore.exitCode(), restore.toString());

        String line = client.verdict();
        assertTrue(line.startsWith("PASS"), "client: " + line);
    }

    @Test
    @Timeout(150)
    void unlockLetsTheConnectionGo() throws Exception {
        StreamClient client = checkpointWithAClientConnected();
        Run unlock = pmigIn("node-a", "restore", "--dir", image().toString(), "--unlock");
        assertEquals(ExitCodes.OK, unlock.exitCode(), unlock.toString());
        assertTrue(unlock.out().startsWith("released 1 TCP connection(s)"), unlock.out());

        String line = client.verdict();
        assertTrue(line.startsWith("FAIL") && line.contains("reset"), "the released client is reset: " + line);
    }

    /** stream-server on node-a with a client connected, checkpointed into {@link #image()}: gone; returns the client. */
    private StreamClient checkpointWithAClientConnected() throws Exception {
        String server = StreamService.startOnNodeA();
        StreamClient client = StreamService.client();
        awaitConnected();
        Run checkpoint = pmigIn("node-a", "checkpoint", server, "--dir", image().toString());
        assertEquals(ExitCodes.OK, checkpoint.exitCode(), checkpoint.toString());
        assertEquals("", exec("node-a", "sh", "-c", "ls /proc | grep -x " + server + " || true").strip(), "the server is gone");
        return client;
    }

    private Path image() {
        return tmp.resolve("image");
    }

    /** Waits until the client's connection is established on node-a. */
    private static void awaitConnected() throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            if (!exec("node-a", "ss", "-Htn", "state", "established", "sport = :" + StreamService.PORT).isBlank()) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the client did not connect to " + StreamService.VIP + ":" + StreamService.PORT);
    }
}
