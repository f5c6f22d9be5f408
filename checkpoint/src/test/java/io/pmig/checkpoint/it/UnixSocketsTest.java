package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Unix sockets of every type and state (checkpoint/src/test/c/unix_sockets.c): listeners on a path
 * and an abstract name with connections accepted from them, a datagram socket with datagrams from
 * named and unnamed senders, socket pairs, a half-closed stream. The restored program checks its
 * queues, names, options and listeners itself. Refusals: a peer in another process, a connection
 * not yet accepted, a path where a live socket listens at restore.
 */
class UnixSocketsTest extends ItSupport {
    private static final String PROGRAM = "unix_sockets";
    private static final String LISTENING = "listening";
    private static final String UNCONNECTED_DATAGRAM = "datagram";
    /** The Flags column of /proc/net/unix for a listener (__SO_ACCEPTCON). */
    private static final int SO_ACCEPTCON = 1 << 16;

    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checkpointThenRestore() throws Exception {
        TestProgram p = startReady(PROGRAM);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        Path dir = imageDir("1");
        checkpoint(p, dir, false);
        restore(p, dir);
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "restored " + PROGRAM);
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checkpointLeaveRunning() throws Exception {
        TestProgram p = startReady(PROGRAM);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        checkpoint(p, imageDir("1"), true);
        assertTrue(p.originalProcess().isAlive(), "original died after checkpoint --leave-running");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "original after checkpoint --leave-running");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void restoreTwiceFromOneImage() throws Exception {
        TestProgram p = startReady(PROGRAM);
        Path dir = imageDir("1");
        checkpoint(p, dir, false);
        restore(p, dir);
        goExpectPassAndExit(p);
        p.awaitPidFree(PID_FREE_TIMEOUT);

        p.resetForRestore();
        restore(p, dir);
        goExpectPassAndExit(p);
    }

    /** The killed original leaves its socket files behind, with nothing bound to them: the restore replaces them. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void staleSocketFilesAreReplaced() throws Exception {
        TestProgram p = startReady(PROGRAM);
        Path listen = p.stateDir().resolve("listen.sock");
        Path dgram = p.stateDir().resolve("dgram.sock");
        Path dir = imageDir("1");
        assertEquals(LISTENING, boundAt(listen), "before the checkpoint");
        checkpoint(p, dir, false);
        assertTrue(isSocketFile(listen) && isSocketFile(dgram), "the killed original's socket files are gone");
        assertEquals("", boundAt(listen), "a socket is still bound at " + listen + " after the checkpoint killed the original");
        assertEquals("", boundAt(dgram), "a socket is still bound at " + dgram + " after the checkpoint killed the original");
        assertFalse(accepts(listen), "something still listens on " + listen);

        restore(p, dir);
        assertEquals(LISTENING, boundAt(listen), listen + " after the restore");
        assertEquals(UNCONNECTED_DATAGRAM, boundAt(dgram), dgram + " after the restore");
        assertTrue(isSocketFile(listen) && isSocketFile(dgram), "socket files after the restore");
        goExpectPassAndExit(p);
    }

    /** A live listener at the path of one of the image's listeners: refused, naming the path, and nothing replaced. */
    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void pathWhereAnotherProcessListensIsRefused() throws Exception {
        TestProgram p = startReady(PROGRAM);
        Path listen = p.stateDir().resolve("listen.sock");
        Path dgram = p.stateDir().resolve("dgram.sock");
        Path sender = p.stateDir().resolve("sender.sock");
        Path dir = imageDir("1");
        checkpoint(p, dir, false);

        Files.delete(listen);
        long dgramBefore = inode(dgram);
        long senderBefore = inode(sender);
        try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            other.bind(UnixDomainSocketAddress.of(listen));
            long otherFile = inode(listen);
            RefusedException e = assertThrows(RefusedException.class,
                    () -> new RestoreEngine().restore(dir, new RestoreOptions(false)), "restore while another socket listens on " + listen);
            assertTrue(e.getMessage() != null && e.getMessage().contains(listen.toString()),
                    "refusal does not name " + listen + ": " + e.getMessage());
            // the half-made process is gone (a zombie until the engine reaps it is no process)
            String state = TestProgram.procState(p.pid()).orElse("Z (gone)");
            assertTrue(state.startsWith("Z"), "pid " + p.pid() + " is " + state + " after the refused restore");
            // the other listener is untouched and still takes connections; the image's other files are as they were
            assertEquals(otherFile, inode(listen), "the other process's socket file was replaced");
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(listen));
                 SocketChannel accepted = other.accept()) {
                client.write(ByteBuffer.wrap(new byte[] {42}));
                ByteBuffer b = ByteBuffer.allocate(1);
                accepted.read(b);
                assertEquals(42, b.get(0), "the other listener's connection");
            }
            assertEquals(dgramBefore, inode(dgram), dgram + " was touched by the refused restore");
            assertEquals(senderBefore, inode(sender), sender + " was touched by the refused restore");
        }
    }

    /** A connection whose other end a forked child holds: refused at checkpoint, naming the child; the program runs on. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void peerInAnotherProcessIsRefused() throws Exception {
        TestProgram p = startReadyInMode(PROGRAM, "outside");
        int child = Integer.parseInt(Files.readString(p.stateDir().resolve("child.pid")).trim());
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        RefusedException e = assertThrows(RefusedException.class,
                () -> new CheckpointEngine().checkpoint(p.pid(), imageDir("1"), new CheckpointOptions(false)));
        String m = e.getMessage();
        assertTrue(m != null && Pattern.compile("held by process " + child + "\\b").matcher(m).find() && m.contains("checkpoint them together"),
                "refusal does not name the peer's process " + child + ": " + m);
        assertTrue(m.contains("fd ") && m.contains("of process " + p.pid()), "refusal does not name the descriptor: " + m);
        assertTrue(p.originalProcess().isAlive(), "the refused process died");
        assertRunningUntraced(p.pid(), "after the refused checkpoint");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "process after a refused checkpoint");
        goExpectPassAndExit(p);
    }

    /** A connection waiting in a listener's accept queue cannot be put back: refused with the count and the client. */
    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void connectionNotYetAcceptedIsRefused() throws Exception {
        TestProgram p = startReadyInMode(PROGRAM, "pending");
        int child = Integer.parseInt(Files.readString(p.stateDir().resolve("child.pid")).trim());
        RefusedException e = assertThrows(RefusedException.class,
                () -> new CheckpointEngine().checkpoint(p.pid(), imageDir("1"), new CheckpointOptions(true)));
        String m = e.getMessage();
        assertTrue(m != null && m.contains("1 connection(s)") && m.contains(p.stateDir().resolve("listen.sock").toString())
                        && Pattern.compile("process " + child + "\\b").matcher(m).find(),
                "refusal does not name the listener, the count and the client's process " + child + ": " + m);
        assertRunningUntraced(p.pid(), "after the refused checkpoint");
        goExpectPassAndExit(p);
    }

    private static boolean isSocketFile(Path p) throws Exception {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS)
                && ((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000) == 0140000;
    }

    /**
     * What /proc/net/unix says of the sockets at {@code p}: "listening" if a listener is bound
     * there, else "datagram" for a datagram socket, "other" for any other (an accepted socket shows
     * its listener's path too), "" for none.
     */
    private static String boundAt(Path p) throws Exception {
        String found = "";
        for (String line : Files.readAllLines(Path.of("/proc/net/unix"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 8 || !f[7].equals(p.toString())) {
                continue;
            }
            if (Integer.parseInt(f[3], 16) == SO_ACCEPTCON) {
                return LISTENING;
            }
            found = Integer.parseInt(f[4], 16) == 2 ? UNCONNECTED_DATAGRAM : found.isEmpty() ? "other" : found;
        }
        return found;
    }

    private static long inode(Path p) throws Exception {
        return ((Number) Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS)).longValue();
    }

    private static boolean accepts(Path p) {
        try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(p))) {
            return c.isConnected();
        } catch (Exception e) {
            return false;
        }
    }
}
