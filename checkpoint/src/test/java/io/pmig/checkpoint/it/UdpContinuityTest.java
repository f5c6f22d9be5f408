package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * UDP sockets with queued datagrams (udp_sockets.c): a bound IPv4 socket holding datagrams from
 * two closed local senders and from a non-local address, and an IPv6 socket connected to a live
 * peer (a child process, not checkpointed) holding datagrams from it. After a checkpoint that
 * kills and a restore, or a checkpoint that leaves the process running, the process must read the
 * same datagrams from the same sources, in order, and go on talking. All of it in a network
 * namespace of the test's own (NetworkNamespaceSupport).
 */
class UdpContinuityTest extends NetworkNamespaceSupport {
    private final List<Path> stateDirs = new ArrayList<>();

    @Override
    void beforeLeaving() throws Exception {
        killPeers();
    }

    @RepeatedTest(3)
    @Timeout(90)
    void queuedDatagramsSurviveCheckpointAndRestore() throws Exception {
        TestProgram p = startUdp(false);
        Path image = imageDir("udp");
        checkpoint(p, image, false);
        restore(p, image);
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(90)
    void leaveRunningKeepsTheQueues() throws Exception {
        TestProgram p = startUdp(false);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        checkpoint(p, imageDir("udp"), true);
        assertTrue(p.originalProcess().isAlive(), "original died after checkpoint --leave-running");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "original after checkpoint --leave-running");
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(90)
    void leaveRunningThenCheckpointAndRestore() throws Exception {
        // a service moved on after a trial dump: the first dump must leave the queue readable by the next
        TestProgram p = startUdp(false);
        checkpoint(p, imageDir("1"), true);
        Path image = imageDir("2");
        checkpoint(p, image, false);
        restore(p, image);
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(90)
    void aDatagramThatCannotBePutBackFailsTheRestoreByName() throws Exception {
        TestProgram p = startUdp(false);
        String port4 = Files.readString(p.stateDir().resolve("ports")).trim().split(" ")[0];
        Path image = imageDir("udp");
        checkpoint(p, image, false);
        // a firewall rule eats what the restore sends back to the IPv4 socket
        holdInbound("udp", port4);
        FailedException e;
        try {
            e = assertThrows(FailedException.class, () -> new RestoreEngine().restore(image, new RestoreOptions(false)));
        } finally {
            releaseInbound();
        }
        assertTrue(e.getMessage().contains("UDP socket 127.0.0.1:" + port4) && e.getMessage().contains("from 127.0.0.1:"),
                "the failure does not name the socket and the datagram's source: " + e.getMessage());
    }

    @Test
    @Timeout(90)
    void multicastMembershipIsRefused() throws Exception {
        TestProgram p = startUdp(true);
        RefusedException e = assertThrows(RefusedException.class,
                () -> new CheckpointEngine().checkpoint(p.pid(), imageDir("1"), new CheckpointOptions(false)));
        assertTrue(e.getMessage().contains("UDP socket") && e.getMessage().contains("multicast"),
                "refusal does not name the socket and its multicast membership: " + e.getMessage());
        assertRunningUntraced(p.pid(), "after the refused checkpoint");
        goExpectPassAndExit(p);
    }

    /** Starts udp_sockets; {@code multicast}: its IPv4 socket also joins a group (STATEDIR/join-multicast). */
    private TestProgram startUdp(boolean multicast) throws Exception {
        Path dir = tmp.resolve("udp_sockets-state");
        stateDirs.add(dir);
        if (multicast) {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("join-multicast"), "");
        }
        TestProgram p = startReady("udp_sockets");
        assertEquals("1", Files.readString(dir.resolve("nonlocal")).trim(),
                "the program could not queue a datagram from a non-local address; log:\n" + p.logTail());
        return p;
    }

    /** The programs' peer children (their own sessions, not checkpointed) are killed by pid, once checked to be ours. */
    private void killPeers() throws IOException {
        for (Path dir : stateDirs) {
            Path pidFile = dir.resolve("peer-pid");
            if (!Files.exists(pidFile)) {
                continue;
            }
            int pid = Integer.parseInt(Files.readString(pidFile).trim());
            Path cmdline = Paths.get("/proc", Integer.toString(pid), "cmdline");
            try {
                String cmd = new String(Files.readAllBytes(cmdline), StandardCharsets.UTF_8);
                if (List.of(cmd.split("\0")).contains(dir.toString())) {
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                }
            } catch (IOException gone) {
                // already exited
            }
        }
        stateDirs.clear();
    }

}
