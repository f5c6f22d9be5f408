package io.pmig.cli;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import java.nio.file.Path;

/** The checkpoint engine as the commands see it: the real one, or a test double. */
public interface Engines {
    CheckpointReport checkpoint(int pid, Path dir, CheckpointOptions options);

    RestoreReport restore(Path dir, RestoreOptions options);

    static Engines real() {
        return new Engines() {
            @Override
            public CheckpointReport checkpoint(int pid, Path dir, CheckpointOptions options) {
                return new CheckpointEngine().checkpoint(pid, dir, options);
            }

            @Override
            public RestoreReport restore(Path dir, RestoreOptions options) {
                return new RestoreEngine().restore(dir, options);
            }
        };
    }
}
