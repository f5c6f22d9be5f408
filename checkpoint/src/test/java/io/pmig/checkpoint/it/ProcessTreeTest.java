package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.nativeio.Linux;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A process tree (tree.c: a parent, three children, a grandchild, two zombies; a group and a session of their own;
 * shared memory, a pipe, a listener and a file description shared across fork; a child with two threads) checkpointed
 * whole and restored whole, by file and by stream: every member with its pid and parent, the zombies as zombies with
 * their statuses, and the program's own checks pass.
 */
class ProcessTreeTest extends ItSupport {
    /** Every pid the test saw, killed after it: a restored tree's members are not the harness's children. */
    private final List<Integer> seen = new ArrayList<>();

    @BeforeEach
    void root() {
        assumeRoot();
    }

    @AfterEach
    void killTheTree() {
        for (int pid : seen) {
            try {
                Linux.kill(pid, Linux.SIGKILL);
            } catch (RuntimeException gone) {
                // already ended
            }
        }
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aTreeCheckpointedToADirectoryComesBackWhole() throws Exception {
        TestProgram p = startReady("tree");
        Map<Integer, String> parents = parentsOf(p.pid());
        Path dir = imageDir("tree");
        CheckpointReport cr = new CheckpointEngine().checkpoint(p.pid(), dir, new CheckpointOptions(false));
        seen.addAll(cr.processes());
        assertEquals(List.copyOf(parents.keySet()), cr.processes().stream().sorted().toList(), "the processes the report lists");
        assertEquals(7, cr.threads(), "threads of the tree (A has two, the orphan one)");
        awaitTreeFree(p, cr.processes());

        RestoreReport rr = new RestoreEngine().restore(dir, new RestoreOptions(false));
        p.adoptRestored(rr.pid());
        assertEquals(cr.processes(), rr.processes(), "the restored processes, in the tree's order");
        assertSameParents(parents, p.pid());
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aTreeMovesByStreamAndTheOriginalIsGoneOnlyAtCommit() throws Exception {
        TestProgram p = startReady("tree");
        Map<Integer, String> parents = parentsOf(p.pid());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<Integer> members;
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(p.pid(), Channels.newChannel(out), CheckpointOptions.defaults())) {
            members = frozen.report().processes();
            seen.addAll(members);
            long zombies = members.stream().filter(pid -> TestProgram.procState(pid).orElse("gone").startsWith("Z")).count();
            assertEquals(2, zombies, "the tree's two zombies stay unreaped while it is frozen, the others live: " + members);
            frozen.commit();
        }
        awaitTreeFree(p, members);
        try (RestoredProcess restored = new RestoreEngine().restore(Channels.newChannel(new ByteArrayInputStream(out.toByteArray())),
                "memory", new RestoreOptions(false))) {
            assertEquals(members, restored.pids(), "restored members");
            restored.resume();
            p.adoptRestored(restored.pid());
        }
        assertSameParents(parents, p.pid());
        goExpectPassAndExit(p);
    }

    /**
     * A checkpoint of a tree whose taker died before deciding (a daemon killed mid-move): every live member stays
     * parked, and {@link CheckpointEngine#recoverAbandoned} lets them all run on, with what they share, as they were.
     */
    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void anAbandonedCheckpointOfATreeIsResumedWhole() throws Exception {
        TestProgram p = startReady("tree");
        Map<Integer, String> parents = parentsOf(p.pid());
        // neither committed nor aborted: what a daemon that died after the image leaves
        FrozenCheckpoint abandoned = new CheckpointEngine().checkpoint(p.pid(), Channels.newChannel(java.io.OutputStream.nullOutputStream()),
            CheckpointOptions.defaults());
        List<Integer> live = abandoned.report().processes().stream()
            .filter(pid -> !TestProgram.procState(pid).orElse("gone").startsWith("Z")).toList();
        seen.addAll(abandoned.report().processes());
        assertEquals(6, live.size(), "the tree's live members: " + abandoned.report().processes());
        for (int pid : live) {
            assertParked(pid, "after an abandoned checkpoint");
        }
        CheckpointEngine.recoverAbandoned(p.pid());
        for (int pid : live) {
            assertRunningUntraced(pid, "after the recovery");
        }
        assertSameParents(parents, p.pid());
        goExpectPassAndExit(p);
    }

    /** Each process of the tree under {@code root} (the root included) with its parent's pid. */
    private static Map<Integer, String> parentsOf(int root) throws Exception {
        Map<Integer, String> out = new TreeMap<>();
        List<Integer> next = new ArrayList<>(List.of(root));
        while (!next.isEmpty()) {
            int pid = next.remove(0);
            out.put(pid, TestProgram.procField(pid, "PPid").orElseThrow());
            String children = Files.readString(Path.of("/proc", Integer.toString(pid), "task", Integer.toString(pid), "children")).trim();
            for (String c : children.isEmpty() ? new String[0] : children.split(" ")) {
                next.add(Integer.parseInt(c));
            }
        }
        return out;
    }

    private static void assertSameParents(Map<Integer, String> before, int root) throws Exception {
        Map<Integer, String> after = parentsOf(root);
        assertEquals(before.keySet(), after.keySet(), "the restored tree's processes");
        for (Map.Entry<Integer, String> e : before.entrySet()) {
            if (e.getKey() != root && !e.getValue().equals(after.get(e.getKey()))) {
                fail("process " + e.getKey() + " has parent " + after.get(e.getKey()) + " after the restore, " + e.getValue() + " before");
            }
        }
    }
}
