package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.PrecopySource;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
        assertEquals(8, cr.threads(), "threads of the tree (A has two, the orphan one, X one)");
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
        assertEquals(7, live.size(), "the tree's live members: " + abandoned.report().processes());
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

    /**
     * A staged move of a tree (pre-copy): rounds of every member's memory while the tree runs, a member ending and a new
     * one forked between the rounds (X and G), then the last part. The copy (built beside the running original, so in a
     * PID namespace of its own, with the same numbers inside) is the tree as it was frozen: X gone, G there with its
     * parent, the zombies as zombies, and the program's own checks pass.
     */
    @Test
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aTreeMovesStagedWhileAMemberEndsAndAnotherIsForked() throws Exception {
        TestProgram p = startReady("tree");
        int roundOneMembers = parentsOf(p.pid()).size();
        Map<Integer, String> parents = new TreeMap<>();
        StagedMove move = moveStaged(p, (session, destination) -> {
            session.sendRound(destination.sink());
            Files.writeString(p.stateDir().resolve("churn"), "churn\n");
            awaitFile(p.stateDir().resolve("churned"));
            parents.putAll(parentsOf(p.pid()));
            destination.roundFollows();
            session.sendRound(destination.sink());
        });
        List<Integer> frozenTree = move.frozen();
        List<Integer> copies = move.copies();
        assertEquals(roundOneMembers, parents.size(), "X ended and G was forked: as many processes as before the churn");
        int copyRoot = copies.get(0);
        assertEquals(frozenTree.stream().sorted().toList(), copies.stream().map(ProcessTreeTest::innerPid).sorted().toList(),
            "the restored processes, as they see themselves: the tree as it was frozen");
        Map<Integer, String> restoredParents = new TreeMap<>();
        parentsOf(copyRoot).forEach((pid, ppid) -> restoredParents.put(innerPid(pid),
            pid == copyRoot ? ppid : Integer.toString(innerPid(Integer.parseInt(ppid)))));
        restoredParents.put(p.pid(), parents.get(p.pid()));
        assertEquals(parents, restoredParents, "each process's parent, as they see them");
        p.go();
        assertPass(p, awaitResultOf(p.stateDir(), copyRoot));
    }

    /**
     * The pages a parent and its children share copy-on-write (a prefork server's workers and their parent) are shared
     * again after the restore, bundle and staged: no member holds more memory of its own (smaps_rollup's Private_Dirty)
     * than its original did, and what each wrote itself, or its parent wrote after the fork, is its own as before (the
     * program's checks). Staged, the originals too keep sharing while their pages are read, and a child forked between
     * the rounds (C4, whole in the last part) shares too.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"bundle", "staged"})
    @Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void membersShareTheirInheritedPagesAgain(String mode) throws Exception {
        TestProgram p = startReady("tree_cow");
        Map<Integer, Long> before = privateDirtyKib(p.pid());
        assertEquals(4, before.size(), "the parent and its three children: " + before);
        List<Integer> copies;
        if (mode.equals("bundle")) {
            try (RestoredProcess restored = restoreFrom(checkpointTreeToBytes(p, seen), new RestoreOptions(false))) {
                copies = restored.pids();
                restored.resume();
                p.adoptRestored(restored.pid());
            }
        } else {
            copies = moveStaged(p, (session, destination) -> {
                session.sendRound(destination.sink());
                // reading a running tree's pages leaves them shared: the originals hold no more of their own than before
                assertNoMoreOwnMemory(before, privateDirtyKib(p.pid()), "the originals after a pre-copy round");
                // C4, forked now, comes whole in the last part, and its copy is forked by its parent's then
                Files.writeString(p.stateDir().resolve("fork"), "fork\n");
                awaitFile(p.stateDir().resolve("forked"));
                before.clear();
                before.putAll(privateDirtyKib(p.pid()));
                destination.roundFollows();
                session.sendRound(destination.sink());
            }).copies();
            assertEquals(5, before.size(), "C4 was forked: " + before);
        }
        Map<Integer, Long> after = new TreeMap<>();
        privateDirtyKib(copies.get(0)).forEach((pid, kib) -> after.put(innerPid(pid), kib));
        assertNoMoreOwnMemory(before, after, "the copies");
        if (mode.equals("bundle")) {
            goExpectPassAndExit(p);
        } else {
            p.go();
            assertPass(p, awaitResultOf(p.stateDir(), copies.get(0)));
        }
    }

    /**
     * Each process of {@code after} (KiB of its own by pid, as the original sees itself) holds no more than it did in
     * {@code before}, beyond 3 MiB: a little of the restorer's and the 1 MiB tree_cow's children share among themselves.
     */
    private static void assertNoMoreOwnMemory(Map<Integer, Long> before, Map<Integer, Long> after, String what) {
        assertEquals(before.keySet(), after.keySet(), what + ": the processes");
        for (Map.Entry<Integer, Long> member : before.entrySet()) {
            assertTrue(after.get(member.getKey()) <= member.getValue() + 3 * 1024, what + ": process " + member.getKey() + " holds "
                + after.get(member.getKey()) + " KiB of its own, " + member.getValue() + " before: " + before + " -> " + after);
        }
    }

    /** Private_Dirty of /proc/PID/smaps_rollup of each process of the tree under {@code root}, in KiB. */
    private static Map<Integer, Long> privateDirtyKib(int root) throws Exception {
        Map<Integer, Long> out = new TreeMap<>();
        for (int pid : parentsOf(root).keySet()) {
            String line = Files.readAllLines(Path.of("/proc", Integer.toString(pid), "smaps_rollup")).stream()
                .filter(l -> l.startsWith("Private_Dirty:")).findFirst().orElseThrow();
            out.put(pid, Long.parseLong(line.replaceAll("[^0-9]", "")));
        }
        return out;
    }

    /** What a staged move froze at the source and what it built at the destination, as this host sees them. */
    private record StagedMove(List<Integer> frozen, List<Integer> copies) {
    }

    /** Sends a pre-copy session's rounds to the destination, none after the first without {@code roundFollows}. */
    private interface Rounds {
        void send(PrecopySource session, StagedDestination destination) throws Exception;
    }

    /**
     * Moves the tree of {@code p} staged to a destination in this JVM: {@code rounds}, then the last part once the
     * original is committed and gone (its listener holds its port on this host: the copy takes it over then).
     */
    private StagedMove moveStaged(TestProgram p, Rounds rounds) throws Exception {
        StagedDestination destination = StagedDestination.start();
        List<Integer> frozenTree;
        ByteArrayOutputStream lastPart = new ByteArrayOutputStream();
        try (PrecopySource session = new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults())) {
            rounds.send(session, destination);
            try (FrozenCheckpoint frozen = session.finish(Channels.newChannel(lastPart), CheckpointOptions.defaults())) {
                frozenTree = frozen.report().processes();
                seen.addAll(frozenTree);
                frozen.commit();
            }
            awaitTreeFree(p, frozenTree);
            destination.lastPartFollows();
            destination.sink().write(java.nio.ByteBuffer.wrap(lastPart.toByteArray()));
        } catch (RuntimeException e) {
            throw destination.withDestinationFailure(e);
        } finally {
            destination.lastPartFollows();
            destination.sink().close();
        }
        List<Integer> copies = destination.awaitCopy();
        seen.addAll(copies);
        return new StagedMove(frozenTree, copies);
    }

    /** The pid process {@code hostPid} sees for itself (the last of its NSpid). */
    private static int innerPid(int hostPid) {
        String[] nspids = TestProgram.procField(hostPid, "NSpid").orElseThrow().trim().split("\\s+");
        return Integer.parseInt(nspids[nspids.length - 1]);
    }

    private static void awaitFile(Path file) throws InterruptedException {
        long deadline = System.nanoTime() + TestProgram.READY_TIMEOUT.toNanos();
        while (!Files.exists(file)) {
            if (System.nanoTime() > deadline) {
                fail("the program did not write " + file);
            }
            Thread.sleep(5);
        }
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
