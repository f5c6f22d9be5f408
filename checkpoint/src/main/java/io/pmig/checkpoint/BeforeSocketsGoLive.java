package io.pmig.checkpoint;

import java.util.List;

/**
 * Called by a restore once every TCP connection of the image is rebuilt in repair mode (the
 * connections neither send nor answer anything yet) and just before they leave it. Leaving repair
 * sends a window probe and the never-sent tails: whoever holds the service's inbound packets must
 * replay them and lift the hold here, or the peer's answers are dropped (shared/FACTS.md). Called
 * exactly once per restore, on the restoring thread, also when the image has no TCP connection
 * ({@code connections} empty). An exception from it fails the restore: the half-restored process is
 * killed without a packet to any peer.
 */
@FunctionalInterface
public interface BeforeSocketsGoLive {
    BeforeSocketsGoLive NOTHING = (pid, connections) -> { };

    /** {@code pid}: the restored process as this host sees it, stopped. */
    void run(int pid, List<TcpConnection> connections) throws Exception;
}
