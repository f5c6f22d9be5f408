package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.proc.ProcFs;

import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A process of an unprivileged user (nobody) with several threads, checkpointed and restored by root:
 * every thread of the copy has the process's ids and no capability (the restore used to set them in
 * the main thread only, leaving the others root), and the program still passes; a copy stays dumpable.
 */
class UnprivilegedProcessTest extends ItSupport {
    private static final int NOBODY = 65534;

    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(60)
    void everyThreadOfTheCopyHasTheProcesssIdsAndNoCapability() throws Exception {
        TestProgram p = startReadyAs("threads", NOBODY);
        Set<Integer> threads = new ProcFs(p.pid()).tasks();
        assertTrue(threads.size() > 1, "threads runs several threads: " + threads);
        byte[] image = checkpointIntoMemoryAndCommit(p);
        restoreAndResume(p, image, RestoreOptions.defaults());
        Set<Integer> restoredThreads = new ProcFs(p.pid()).tasks();
        assertEquals(threads, restoredThreads, "the same thread ids");
        for (int tid : restoredThreads) {
            Map<String, String> status = new ProcFs(tid).status();
            assertEquals("65534\t65534\t65534\t65534", status.get("Uid"), "uids of thread " + tid);
            assertEquals("65534\t65534\t65534\t65534", status.get("Gid"), "gids of thread " + tid);
            assertEquals("", status.get("Groups"), "groups of thread " + tid);
            assertEquals("0000000000000000", status.get("CapEff"), "effective capabilities of thread " + tid);
            assertEquals("0000000000000000", status.get("CapPrm"), "permitted capabilities of thread " + tid);
        }
        goExpectPassAndExit(p);
    }

    /**
     * exact_process and exact_fds as nobody: the copy is dumpable as its original was (the restore's change of ids
     * used to make it not: no ptrace, core or /proc access for its owner, and /proc/PID owned by root), its pipes and
     * sockets belong to nobody (the restore creates them as root), and its /proc view is the original's.
     */
    @ParameterizedTest(name = "{0} of nobody: the copy's /proc view is the original's")
    @ValueSource(strings = {"exact_process", "exact_fds"})
    @Timeout(60)
    void anUnprivilegedCopyLooksLikeItsOriginal(String program) throws Exception {
        TestProgram p = startReadyAs(program, NOBODY);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        byte[] image = checkpointIntoMemoryAndCommit(p);
        restoreAndResume(p, image, RestoreOptions.defaults());
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "restored " + program + " of nobody");
        goExpectPassAndExit(p);
    }
}
