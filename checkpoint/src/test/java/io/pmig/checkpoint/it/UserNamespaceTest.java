package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageWriter;
import io.pmig.checkpoint.task.ProcessImage;
import io.pmig.checkpoint.task.UserNamespace;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A nobody-owned process that is root with every capability in a user namespace of its own (what
 * {@code unshare -U -r} gives) used to come back from a restore with those capabilities in the initial
 * namespace (it read /etc/shadow). It is refused by name, namespace inode and uid_map, by a checkpoint
 * and by a pre-copy's pre-flight, and runs on untouched; an image recording such a namespace is refused
 * before any process exists.
 */
class UserNamespaceTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aProcessInItsOwnUserNamespaceIsRefusedAndRunsOnUntouched() throws Exception {
        TestProgram p = startReady("user_namespace");
        String namespace = Files.readSymbolicLink(Path.of("/proc", Integer.toString(p.pid()), "ns", "user")).toString();
        assertNotEquals(Files.readSymbolicLink(Path.of("/proc/self/ns/user")).toString(), namespace,
            "the program runs in a user namespace of its own");
        String inode = namespace.substring(namespace.indexOf('[') + 1, namespace.indexOf(']'));
        ProcSnapshot before = ProcSnapshot.of(p.pid());

        for (boolean leaveRunning : new boolean[] {false, true}) {
            RefusedException e = assertThrows(RefusedException.class,
                () -> new CheckpointEngine().checkpoint(p.pid(), imageDir("leave-" + leaveRunning), new CheckpointOptions(leaveRunning)));
            assertNamesTheNamespace(e, p.pid(), inode);
        }
        RefusedException e = assertThrows(RefusedException.class,
            () -> new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults()));
        assertNamesTheNamespace(e, p.pid(), inode);

        assertRunningUntraced(p.pid(), "after the refusals");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "process after refused checkpoints");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void anImageOfAProcessOfAnotherUserNamespaceIsRefusedBeforeAnyProcessExists() throws Exception {
        int pid = freePid();
        UserNamespace foreign = new UserNamespace(4026532174L, 65534, "0 65534 1", "0 65534 1", false);
        ProcessImage process = new ProcessImage(pid, "/bin/sleep", "/", "/", 022, 0, new int[] {65534, 65534, 65534, 65534},
            new int[] {65534, 65534, 65534, 65534}, new int[0], false, null, new long[0][], List.of(), List.of(), new long[0][],
            List.of(), null, 0, false, null, 0, false, java.util.Map.of(), foreign, null, false);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ImageWriter writer = ImageWriter.to(Channels.newChannel(out), ImageHeader.forThisMachine(0, 0))) {
            writer.writeObject(process);
            writer.writePages(0x10000, ByteBuffer.allocate(4096));
        }
        RefusedException e = assertThrows(RefusedException.class, () -> restoreFrom(out.toByteArray(), RestoreOptions.defaults()));
        assertNamesTheNamespace(e, pid, "4026532174");
        assertFalse(TestProgram.pidExists(pid), "a process was created at pid " + pid);
    }

    private static void assertNamesTheNamespace(RefusedException e, int pid, String inode) {
        String m = e.getMessage();
        assertTrue(m.contains("process " + pid) && m.contains("user namespace " + inode) && m.contains("uid_map \"0 65534 1\""),
            "the refusal names the process, its user namespace and its uid_map: " + m);
    }

    private static int freePid() {
        for (int pid = 30000; pid > 300; pid--) {
            if (!TestProgram.pidExists(pid)) {
                return pid;
            }
        }
        throw new AssertionError("no free pid");
    }
}
