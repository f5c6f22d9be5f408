package io.pmig.cli.daemon;

import io.pmig.daemon.control.ControlClient;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --daemon-socket PATH} of every command that talks to the local pmigd; PMIG_DAEMON_SOCKET sets its default. */
public final class DaemonSocketOption {
    @Option(names = "--daemon-socket", paramLabel = "PATH",
            defaultValue = "${env:" + ControlClient.SOCKET_VARIABLE + ":-/run/pmig/pmigd.sock}",
            description = "the control socket of the local pmigd (default: $" + ControlClient.SOCKET_VARIABLE
                    + ", else /run/pmig/pmigd.sock)")
    Path socket;

    public ControlClient client() {
        return new ControlClient(socket);
    }
}
