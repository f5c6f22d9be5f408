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
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Syscall;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * UDP sockets with queued datagrams (udp_sockets.c): a bound IPv4 socket holding datagrams from
 * two closed local senders and from a non-local address, and an IPv6 socket connected to a live
 * peer (a child process, not checkpointed) holding datagrams from it. After a checkpoint that
 * kills and a restore, or a checkpoint that leaves the process running, the process must read the
 * same datagrams from the same sources, in order, and go on talking. All of it in a network
 * namespace of the test's own, which this thread joins (setns is per thread; the engine works on
 * this thread and what it starts inherits it).
 */
class UdpContinuityTest extends ItSupport {
    private static final int SETNS = 308;
    private static final int CLONE_NEWNET = 0x40000000;
    private final String netns = "pmig-udptest-" + ProcessHandle.current().pid();
    private int homeNetns = -1;
    private final List<Path> stateDirs = new ArrayList<>();

    @BeforeEach
    void enterOwnNetworkNamespace() throws Exception {
        assumeRoot();
        run("ip", "netns", "add", netns);
        homeNetns = Linux.open("/proc/thread-self/ns/net", Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        int target = Linux.open("/run/netns/" + netns, Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            Syscall.call("setns(" + netns + ")", SETNS, target, CLONE_NEWNET);
        } finally {
            Linux.close(target);
        }
        run("ip", "link", "set", "lo", "up");
    }

    @AfterEach
    void leaveAndRemoveNamespace() throws Exception {
        try {
            killPeers();
            killEverything();
        } finally {
            if (homeNetns >= 0) {
                Syscall.call("setns(home)", SETNS, homeNetns, CLONE_NEWNET);
                Linux.close(homeNetns);
                homeNetns = -1;
            }
            run("ip", "netns", "del", netns);
        }
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
        run("nft", "add", "table", "inet", "pmigtest");
        run("nft", "add", "chain", "inet", "pmigtest", "in", "{ type filter hook input priority 0; }");
        run("nft", "add", "rule", "inet", "pmigtest", "in", "udp", "dport", port4, "drop");
        FailedException e;
        try {
            e = assertThrows(FailedException.class, () -> new RestoreEngine().restore(image, new RestoreOptions(false)));
        } finally {
            run("nft", "delete", "table", "inet", "pmigtest");
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

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }
}
