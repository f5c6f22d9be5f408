package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.down;
import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * System V IPC through {@code pmig migrate}, there and back: each lab node has an IPC namespace of its own, as a host
 * would, so a tree's objects (the engine's test programs sysv_shm, sysv_sem, sysv_sem_undo, sysv_msg: a parent and its
 * child each) are made on node-b with their ids and keys, gone from node-a, and back again; each program's own checks
 * pass (sysv_sem_undo's: each process gives back exactly what it took with SEM_UNDO).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SysvIpcLabTest {
    private static final Path PROGRAMS = Path.of(System.getProperty("user.dir")).resolveSibling("checkpoint").resolve("target")
        .resolve("test-programs");

    @TempDir
    Path tmp;

    @BeforeAll
    void lab() {
        LabTestSupport.freshLab();
    }

    @AfterAll
    void removeLab() {
        down();
    }

    @ParameterizedTest
    @CsvSource({"sysv_shm, shm", "sysv_sem, sem", "sysv_sem_undo, sem", "sysv_msg, msg"})
    @Timeout(180)
    void objectsMoveThereAndBackWithTheirIdsAndKeys(String program, String table) throws Exception {
        Path state = Files.createDirectories(tmp.resolve(program));
        String pid = exec("node-a", "sh", "-c", "setsid " + PROGRAMS.resolve(program) + " " + state
            + " </dev/null >>" + state.resolve("log") + " 2>&1 & echo $!").strip();
        for (int i = 0; i < 1000 && !Files.exists(state.resolve("ready")); i++) {
            Thread.sleep(20);
        }
        assertTrue(Files.exists(state.resolve("ready")), program + " never got ready: " + Files.readString(state.resolve("log")));
        String key = Integer.toString(0x504d0000 | (Integer.parseInt(pid) & 0xffff));
        String object = objectWithKey("node-a", table, key);
        assertTrue(!object.isEmpty(), "no object with key " + key + " on node-a");

        Run there = pmigIn("node-a", "migrate", pid, "--to", "node-b", "--json");
        assertEquals(ExitCodes.OK, there.exitCode(), there.toString());
        // a tree's pids may be given out on node-b before they are forked there: it may run in a PID namespace of its own
        String onB = there.json().get("restoredPid").asText();
        assertEquals("", objectWithKey("node-a", table, key), "the original's object is gone from node-a");
        assertEquals(object.split("\\s+")[1], objectWithKey("node-b", table, key).split("\\s+")[1], "the id on node-b");

        Run back = pmigIn("node-b", "migrate", onB, "--to", "node-a");
        assertEquals(ExitCodes.OK, back.exitCode(), back.toString());
        assertEquals("", objectWithKey("node-b", table, key), "the object is gone from node-b");
        assertEquals(object.split("\\s+")[1], objectWithKey("node-a", table, key).split("\\s+")[1], "the id on node-a again");

        Files.createFile(state.resolve("go"));
        for (int i = 0; i < 1000 && !Files.exists(state.resolve("result")); i++) {
            Thread.sleep(20);
        }
        assertEquals("PASS", Files.readString(state.resolve("result")).strip(), Files.readString(state.resolve("log")));
    }

    /** The row of /proc/sysvipc/{@code table} on {@code node} with {@code key}, trimmed, or "". */
    private static String objectWithKey(String node, String table, String key) {
        return exec(node, "cat", "/proc/sysvipc/" + table).lines().map(String::strip).filter(l -> l.startsWith(key + " "))
            .findFirst().orElse("");
    }
}
