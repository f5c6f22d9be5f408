package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.nativeio.Linux;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** --new-pid-namespace: a copy restored beside the still-running original keeps its pid inside its namespace. */
class NewPidNamespaceTest {
    @Test
    @Timeout(60)
    void restoresBesideTheOriginalWithTheSamePidInside(@TempDir Path tmp) throws Exception {
        assumeTrue("0".equals(Files.readString(Path.of("/proc/self/status")).replaceAll("(?s).*\\nUid:\\s+(\\d+).*", "$1")), "needs root");
        try (TestProgram original = TestProgram.start("threads", tmp.resolve("state"))) {
            original.awaitReady();
            Path image = tmp.resolve("image");
            new CheckpointEngine().checkpoint(original.pid(), image, new CheckpointOptions(true));
            // the copy shares the state directory; it must not see "go" before the original is done
            RestoreReport copy = new RestoreEngine().restore(image, new RestoreOptions(true));
            try {
                assertNotEquals(original.pid(), copy.pid(), "the host sees the copy under another pid");
                String nspid = Files.readString(Path.of("/proc", Integer.toString(copy.pid()), "status"))
                    .replaceAll("(?s).*\\nNSpid:\\s+([0-9 \\t]+)\\n.*", "$1").trim();
                assertTrue(nspid.endsWith(" " + original.pid()) || nspid.endsWith("\t" + original.pid()),
                    "inside its namespace the copy has pid " + original.pid() + " (NSpid: " + nspid + ")");
                try (var tasks = Files.list(Path.of("/proc", Integer.toString(copy.pid()), "task"))) {
                    assertEquals(13, tasks.count(), "all threads restored");
                }
            } finally {
                kill(copy.pid());
            }
            original.go();
            assertEquals("PASS", original.awaitResult(TestProgram.RESULT_TIMEOUT), "the original runs on unharmed");
        }
    }

    private static void kill(int pid) throws InterruptedException {
        if (Linux.processExists(pid)) {
            Linux.kill(pid, Linux.SIGKILL);
        }
        for (int i = 0; i < 500 && Files.exists(Path.of("/proc", Integer.toString(pid))); i++) {
            Thread.sleep(10);
        }
    }
}
