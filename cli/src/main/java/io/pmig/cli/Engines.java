package io.pmig.cli;

import io.pmig.checkpoint.BeforeSocketsGoLive;
import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.TcpConnection;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The checkpoint engine as the commands see it: the real one, or a test double. */
public interface Engines {
    /** Without {@code leaveRunning}, the process's TCP connections stay held once it is gone ({@link OfflineHold}). */
    CheckpointReport checkpoint(int pid, Path dir, CheckpointOptions options);

    /** Lets the held connections of the image go, just before they go live. */
    RestoreReport restore(Path dir, RestoreOptions options);

    /** Lets the held connections of the image in {@code dir} go without restoring it; returns them. */
    List<TcpConnection> unlock(Path dir);

    static Engines real() {
        return new Engines() {
            @Override
            public CheckpointReport checkpoint(int pid, Path dir, CheckpointOptions options) {
                CheckpointEngine engine = new CheckpointEngine();
                List<TcpConnection> connections = options.leaveRunning() ? List.of() : engine.tcpConnections(pid);
                if (!connections.isEmpty()) {
                    OfflineHold.hold(connections);
                }
                try {
                    return engine.checkpoint(pid, dir, options);
                } catch (RuntimeException | Error e) {
                    OfflineHold.undo(() -> OfflineHold.release(connections), e); // the process runs on with them
                    throw e;
                }
            }

            @Override
            public RestoreReport restore(Path dir, RestoreOptions options) {
                List<TcpConnection> released = new ArrayList<>();
                BeforeSocketsGoLive then = options.beforeSocketsGoLive();
                try {
                    return new RestoreEngine().restore(dir, options.withBeforeSocketsGoLive((pid, connections) -> {
                        OfflineHold.release(connections);
                        released.addAll(connections);
                        then.run(pid, connections);
                    }));
                } catch (RuntimeException | Error e) {
                    if (!released.isEmpty()) {
                        OfflineHold.undo(() -> OfflineHold.hold(released), e); // the copy was killed: its clients wait for the next restore
                    }
                    throw e;
                }
            }

            @Override
            public List<TcpConnection> unlock(Path dir) {
                List<TcpConnection> connections = new RestoreEngine().tcpConnections(dir);
                OfflineHold.release(connections);
                return connections;
            }
        };
    }
}
