package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.dirty.UntrackableException;
import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * System V IPC objects move with the tree that uses them (sysv_shm.c, sysv_sem.c, sysv_msg.c: a parent and its child
 * each; sysv_sem_undo.c: two sets, and the processes' SEM_UNDO adjustments): the commit removes the original's objects,
 * the restore makes them again with the same ids and keys, and each program's own checks pass afterwards. An aborted
 * checkpoint leaves the original's adjustments as they were. An id taken on the restoring host is refused by name with nothing made; an
 * object a process outside the tree uses is refused at checkpoint, and a pre-copy of a process that uses one is not
 * made (bundle).
 */
class SysvIpcTest extends ItSupport {

    @BeforeEach
    void needsRoot() {
        assumeRoot();
    }

    @ParameterizedTest
    @CsvSource({"sysv_shm, shm", "sysv_sem, sem", "sysv_sem_undo, sem", "sysv_msg, msg"})
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void objectsMoveWithTheTreeByStream(String program, String table) throws Exception {
        TestProgram p = startReady(program);
        int key = keyOf(p);
        int id = idByKey(table, key).orElseThrow();
        byte[] image = checkpointTreeAndCommit(p);
        assertTrue(idByKey(table, key).isEmpty(), "the commit removed the original's " + table + " object (key " + key + ")");

        restoreAndResume(p, image, new RestoreOptions(false));
        assertEquals(OptionalInt.of(id), idByKey(table, key), "the restored object has the original's id");
        goExpectPassAndExit(p);
    }

    /** The adjustments are read by asking the frozen processes; an abort must leave them, and the sets, untouched. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void anAbortedCheckpointLeavesTheSemaphoreAdjustmentsAsTheyWere() throws Exception {
        TestProgram p = startReady("sysv_sem_undo");
        int id = idByKey("sem", keyOf(p)).orElseThrow();
        short[] before = SysvIpc.semValues(id, 3);
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(p.pid(), Channels.newChannel(OutputStream.nullOutputStream()),
            CheckpointOptions.defaults())) {
            assertEquals(2, frozen.report().processes().size(), "the parent and its child were checkpointed");
            frozen.abort();
        }
        assertRunningUntraced(p.pid(), "after the abort");
        assertArrayEquals(before, SysvIpc.semValues(id, 3), "the values are as they were");
        goExpectPassAndExit(p); // its checks: each process gives back exactly what it took
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sharedMemoryMovesByImageDirectory() throws Exception {
        TestProgram p = startReady("sysv_shm");
        Path dir = imageDir("sysv");
        CheckpointReport report = new CheckpointEngine().checkpoint(p.pid(), dir, new CheckpointOptions(false));
        awaitTreeFree(p, report.processes());
        p.adoptRestored(new RestoreEngine().restore(dir, new RestoreOptions(false)).pid());
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void anIdTakenHereIsRefusedByNameWithNothingMade() throws Exception {
        TestProgram p = startReady("sysv_msg");
        int key = keyOf(p);
        int id = idByKey("msg", key).orElseThrow();
        byte[] image = checkpointTreeAndCommit(p);

        Files.writeString(Path.of("/proc/sys/kernel/msg_next_id"), Integer.toString(id));
        int blocker = (int) Syscall.call("msgget", SysvIpc.MSGGET, SysvIpc.IPC_PRIVATE, SysvIpc.IPC_CREAT | 0600);
        try {
            assertEquals(id, blocker, "the blocking queue took the id");
            RefusedException e = assertThrows(RefusedException.class, () -> restoreFrom(image, new RestoreOptions(false)));
            assertTrue(e.getMessage().contains("message queue id " + id) && e.getMessage().contains("ipcrm -q " + id), e.getMessage());
            assertTrue(!TestProgram.pidExists(p.pid()), "no process was made");
            assertTrue(idByKey("msg", key).isEmpty(), "no queue was made");
        } finally {
            SysvIpc.remove(SysvIpc.MSGCTL, blocker);
        }
        restoreAndResume(p, image, new RestoreOptions(false));
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aQueueAnotherProcessUsesIsRefusedByNameAndTheTreeRunsOn() throws Exception {
        TestProgram p = startReady("sysv_msg");
        int id = idByKey("msg", keyOf(p)).orElseThrow();
        NativeMemory message = NativeMemory.allocate(16);
        message.putLong(0, 7);
        Syscall.call("msgsnd", SysvIpc.MSGSND, id, message.address(), 1, SysvIpc.IPC_NOWAIT); // this JVM is its last sender now
        int self = (int) ProcessHandle.current().pid();
        RefusedException e = assertThrows(RefusedException.class,
            () -> new CheckpointEngine().checkpoint(p.pid(), imageDir("outsider"), new CheckpointOptions(false)));
        assertTrue(e.getMessage().contains("message queue id " + id) && e.getMessage().contains("process " + self), e.getMessage());
        assertRunningUntraced(p.pid(), "after the refusal");
        assertTrue(idByKey("msg", keyOf(p)).isPresent(), "the queue is left alone");
        String result = p.goAndAwaitResult(); // its checks see this JVM's message; it ends its child and removes the queue
        assertTrue(result.contains("5 messages"), result);
        p.awaitExit(TestProgram.EXIT_TIMEOUT);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aProcessUsingSharedMemoryIsNotPrecopied() throws Exception {
        TestProgram p = startReady("sysv_shm");
        UntrackableException e = assertThrows(UntrackableException.class, () -> new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults()));
        assertTrue(e.getMessage().contains("System V") && e.getMessage().contains("bundle"), e.getMessage());
        assertRunningUntraced(p.pid(), "after the refusal");
        goExpectPassAndExit(p); // its checks pass untouched, and it removes its segment: none is left on the host
    }

    /** A streamed checkpoint of the tree of {@code p}, committed; returns once every process of it is gone. */
    private static byte[] checkpointTreeAndCommit(TestProgram p) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<Integer> members;
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(p.pid(), Channels.newChannel(out), CheckpointOptions.defaults())) {
            members = frozen.report().processes();
            frozen.commit();
        }
        awaitTreeFree(p, members);
        return out.toByteArray();
    }

    /** The key the programs give their objects. */
    private static int keyOf(TestProgram p) {
        return 0x504d0000 | (p.pid() & 0xffff);
    }

    /** The id of the object of /proc/sysvipc/{@code table} with {@code key}, if there is one. */
    private static OptionalInt idByKey(String table, int key) throws Exception {
        List<String> lines = Files.readAllLines(Path.of("/proc/sysvipc", table));
        return lines.stream().skip(1).map(l -> l.trim().split("\\s+")).filter(f -> Integer.parseInt(f[0]) == key)
            .mapToInt(f -> Integer.parseInt(f[1])).findFirst();
    }
}
