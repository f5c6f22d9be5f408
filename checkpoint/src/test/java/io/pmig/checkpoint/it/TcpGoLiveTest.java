package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.TcpConnection;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Sockets;

import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The migration-shaped API with live TCP connections (tcp_stream: a server streaming both ways
 * with a forked peer checking every byte): abort thaws the original with its connections working;
 * commit kills it; a streamed restore calls the go-live hook exactly once, while every connection is
 * still in repair mode, and the connections work afterwards; a restore killed before or after its
 * connections went live leaves them intact for the next one.
 */
class TcpGoLiveTest extends NetworkNamespaceSupport {
    @Test
    @Timeout(90)
    void abortThawsTheOriginalWithItsConnectionsWorking() throws Exception {
        TestProgram server = startReady("tcp_stream");
        holdInbound("tcp", ports(server));
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(server.pid(),
                Channels.newChannel(new ByteArrayOutputStream()), CheckpointOptions.defaults())) {
            assertTrue(frozen.report().descriptors() > 0, "the server's sockets are in the image");
            assertEquals(List.of(1, 1), repairFlags(server.pid()), "the connections are in repair mode while frozen");
            frozen.abort();
        } finally {
            releaseInbound();
        }
        assertRunningUntraced(server.pid(), "after abort");
        assertEquals(List.of(0, 0), repairFlags(server.pid()), "abort took the connections out of repair mode");
        goExpectPassAndExit(server);
    }

    @Test
    @Timeout(90)
    void theHookRunsOnceWhileEveryConnectionIsStillInRepair() throws Exception {
        TestProgram server = startReady("tcp_stream");
        holdInbound("tcp", ports(server));
        byte[] image;
        List<String> seen = new ArrayList<>();
        try {
            image = checkpointIntoMemoryAndCommit(server);
            RestoreOptions options = RestoreOptions.defaults().withBeforeSocketsGoLive((pid, connections) -> {
                seen.add(connections.size() + " connections, repair " + repairFlags(pid));
                for (TcpConnection c : connections) {
                    assertTrue(c.local().getAddress().isLoopbackAddress() && c.remote().getAddress().isLoopbackAddress(), c.toString());
                }
                releaseInbound(); // as the VIP manager lifts its hold in this window
            });
            try (RestoredProcess restored = restoreFrom(image, options)) {
                assertEquals(List.of("2 connections, repair [1, 1]"), seen, "hook calls");
                assertEquals(List.of(0, 0), repairFlags(restored.pid()), "live once restore returns");
                restored.resume();
                server.adoptRestored(restored.pid());
            }
        } finally {
            releaseInboundIfHeld();
        }
        assertRunningUntraced(server.pid(), "after resume");
        goExpectPassAndExit(server);
    }

    @Test
    @Timeout(120)
    void aRestoreKilledBeforeOrAfterGoingLiveLeavesTheConnectionsToTheNext() throws Exception {
        TestProgram server = startReady("tcp_stream");
        holdInbound("tcp", ports(server));
        try {
            byte[] image = checkpointIntoMemoryAndCommit(server);
            FailedException e = assertThrows(FailedException.class, () -> restoreFrom(image, RestoreOptions.defaults()
                .withBeforeSocketsGoLive((pid, connections) -> {
                    throw new IllegalStateException("the peer node went away");
                })));
            assertTrue(e.getMessage().contains("the peer node went away") && e.getMessage().contains("was killed"), e.getMessage());
            awaitGone(server.pid(), "after the failed hook");

            try (RestoredProcess live = restoreFrom(image, RestoreOptions.defaults())) {
                live.kill();
            }
            awaitGone(server.pid(), "after kill");

            restoreAndResume(server, image, RestoreOptions.defaults());
        } finally {
            releaseInbound();
        }
        goExpectPassAndExit(server);
    }

    private static String[] ports(TestProgram server) throws Exception {
        return Files.readString(server.stateDir().resolve("ports")).trim().split(" ");
    }

    private static void releaseInboundIfHeld() throws Exception {
        Process p = new ProcessBuilder("nft", "list", "table", "inet", "pmigtest").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        if (p.waitFor() == 0) {
            releaseInbound();
        }
    }

    /** TCP_REPAIR of each established TCP socket of the process, read through a pidfd_getfd copy, in fd order. */
    private static List<Integer> repairFlags(int pid) throws Exception {
        List<Integer> flags = new ArrayList<>();
        int pidfd = Linux.pidfdOpen(pid);
        try (var fds = Files.list(Path.of("/proc", Integer.toString(pid), "fd"))) {
            for (int fd : fds.map(f -> Integer.parseInt(f.getFileName().toString())).sorted().toList()) {
                if (!Files.readSymbolicLink(Path.of("/proc", Integer.toString(pid), "fd", Integer.toString(fd))).toString().startsWith("socket:")) {
                    continue;
                }
                int copy = Linux.pidfdGetfd(pidfd, fd);
                try {
                    boolean tcp = Sockets.isInet(copy, Linux.SOCK_STREAM, Sockets.IPPROTO_TCP);
                    int state = tcp ? Sockets.getsockopt(copy, Sockets.IPPROTO_TCP, Sockets.TCP_INFO, 104)[0] : 0;
                    if (tcp && state != 10) { // not a listener (TCP_LISTEN)
                        flags.add(Sockets.getInt(copy, Sockets.IPPROTO_TCP, Sockets.TCP_REPAIR));
                    }
                } finally {
                    Linux.close(copy);
                }
            }
        } finally {
            Linux.close(pidfd);
        }
        return flags;
    }
}
