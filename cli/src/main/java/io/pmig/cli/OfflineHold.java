package io.pmig.cli;

import io.pmig.checkpoint.TcpConnection;
import io.pmig.vip.hold.HoldRules;
import java.util.List;

/**
 * The TCP connections of a process checkpointed to disk are held on this host from before the freeze
 * until {@code pmig restore} takes them over (or {@code pmig restore --unlock} gives them up): their
 * inbound packets are dropped (the VIP manager's endpoint hold), so the clients hear no reset from the
 * closed sockets and retransmit into the restored ones. Works in pmig's network namespace.
 */
final class OfflineHold {
    private OfflineHold() {
    }

    /** Drops inbound packets to the local end of each connection from now on (installs the rules: runs nft). */
    static void hold(List<TcpConnection> connections) {
        try (HoldRules rules = HoldRules.install()) {
            connections.forEach(c -> rules.holdEndpoint(c.local()));
        }
    }

    /** Runs {@code step}, which puts a hold back as it was after {@code failure}; its own failure joins that one. */
    static void undo(Runnable step, Throwable failure) {
        try {
            step.run();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /** Lets their packets through again (no process: microseconds); a connection not held is passed over. */
    static void release(List<TcpConnection> connections) {
        if (connections.isEmpty()) {
            return;
        }
        try (HoldRules rules = HoldRules.installed()) {
            connections.forEach(c -> rules.releaseEndpoint(c.local()));
        }
    }
}
