package io.pmig.cli;

import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.TcpConnection;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/** A test double of the engines: records what it was asked and answers with what the test set. */
final class FakeEngines implements Engines {
    int checkpointPid;
    Path checkpointDir;
    CheckpointOptions checkpointOptions;
    Path restoreDir;
    Path unlockDir;
    RestoreOptions restoreOptions;
    int calls;

    Function<Integer, CheckpointReport> onCheckpoint = pid -> {
        throw new AssertionError("checkpoint not expected");
    };
    Function<Path, RestoreReport> onRestore = dir -> {
        throw new AssertionError("restore not expected");
    };

    @Override
    public CheckpointReport checkpoint(int pid, Path dir, CheckpointOptions options) {
        calls++;
        checkpointPid = pid;
        checkpointDir = dir;
        checkpointOptions = options;
        return onCheckpoint.apply(pid);
    }

    @Override
    public List<TcpConnection> unlock(Path dir) {
        calls++;
        unlockDir = dir;
        return List.of();
    }

    @Override
    public RestoreReport restore(Path dir, RestoreOptions options) {
        calls++;
        restoreDir = dir;
        restoreOptions = options;
        return onRestore.apply(dir);
    }
}
