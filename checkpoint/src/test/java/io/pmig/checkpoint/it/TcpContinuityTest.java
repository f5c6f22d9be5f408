package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Timeout;

/**
 * TCP across a checkpoint and restore, with a peer process checking its side: a server streaming
 * both ways on IPv4 and IPv6 connections and listeners (tcp_stream), a listener whose server
 * accepts slowly (tcp_backlog: the checkpoint must let it take its queued connections first), and
 * half-closed connections (tcp_halfclose: FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK), and connections whose
 * send and receive queues are both full (tcp_full: nobody reads until after the move). Inbound packets to the
 * program's ports are dropped while it is away, which a real move does with the VIP.
 */
class TcpContinuityTest extends NetworkNamespaceSupport {
    @RepeatedTest(3)
    @Timeout(90)
    void connectionsSurviveACheckpointAndRestoreWhileDataFlows() throws Exception {
        moveThroughAnImage("tcp_stream");
    }

    @RepeatedTest(2)
    @Timeout(90)
    void connectionsNotYetAcceptedAreTakenBeforeTheCheckpoint() throws Exception {
        moveThroughAnImage("tcp_backlog");
    }

    @RepeatedTest(2)
    @Timeout(90)
    void halfClosedConnectionsCloseAsTheyWould() throws Exception {
        moveThroughAnImage("tcp_halfclose");
    }

    @RepeatedTest(2)
    @Timeout(90)
    void connectionsWithFullQueuesBothWaysCarryOn() throws Exception {
        moveThroughAnImage("tcp_full");
    }

    /** A program that asks for it (wants-held) closes connections while its peer's packets are held. */
    private static void closeWhileHeld(TestProgram program) throws Exception {
        Path dir = program.stateDir();
        if (!Files.exists(dir.resolve("wants-held"))) {
            return;
        }
        Files.writeString(dir.resolve("held"), "");
        for (int i = 0; i < 500 && !Files.exists(dir.resolve("held-done")); i++) {
            Thread.sleep(10);
        }
        assertTrue(Files.exists(dir.resolve("held-done")), program.name() + " did not close its connections while held");
    }

    /** Checkpoint (which kills) and restore, with the program's ports held meanwhile; then the program must pass. */
    private void moveThroughAnImage(String program) throws Exception {
        TestProgram server = startReady(program);
        String[] ports = Files.readString(server.stateDir().resolve("ports")).trim().split(" ");
        Path image = imageDir(program);
        holdInbound("tcp", ports);
        try {
            closeWhileHeld(server);
            checkpoint(server, image, false);
            restore(server, image);
        } finally {
            releaseInbound();
        }
        goExpectPassAndExit(server);
    }
}
