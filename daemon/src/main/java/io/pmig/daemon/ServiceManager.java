package io.pmig.daemon;

import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.nativeio.UnixDatagram;

import java.nio.charset.StandardCharsets;

/**
 * Tells systemd how the daemon is, the sd_notify way (a datagram to $NOTIFY_SOCKET, for a unit of
 * Type=notify): READY=1 once the control socket takes requests, STOPPING=1 when the daemon begins
 * to stop. Without $NOTIFY_SOCKET (not started by systemd) it does nothing.
 */
public final class ServiceManager {
    public static final String NOTIFY_SOCKET = "NOTIFY_SOCKET";

    private final String socket;

    private ServiceManager(String socket) {
        this.socket = socket;
    }

    public static ServiceManager fromEnvironment() {
        String socket = System.getenv(NOTIFY_SOCKET);
        return new ServiceManager(socket == null || socket.isEmpty() ? null : socket);
    }

    /** The daemon serves: systemd ends the start job and starts what waits for pmigd. */
    public void ready(String status) {
        send("READY=1\nSTATUS=" + status + "\nMAINPID=" + ProcessHandle.current().pid());
    }

    public void stopping() {
        send("STOPPING=1\nSTATUS=stopping");
    }

    private void send(String state) {
        if (socket == null) {
            return;
        }
        try {
            UnixDatagram.send(socket, state.getBytes(StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            // systemd then reports the start as timed out, which names the unit: the daemon itself runs on
            DaemonLog.warn("notify-failed", "socket", socket, "state", state.lines().findFirst().orElse(""), "detail", e.getMessage());
        }
    }
}
