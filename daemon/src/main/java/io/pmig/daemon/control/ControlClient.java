package io.pmig.daemon.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * The {@code pmig} side of the control socket (plain JDK, no event loop): sends one request, hands
 * progress lines to a consumer, returns the result or throws. The default socket is
 * /run/pmig/pmigd.sock; {@code --daemon-socket} or {@code PMIG_DAEMON_SOCKET} name another.
 */
public final class ControlClient {
    public static final String SOCKET_VARIABLE = "PMIG_DAEMON_SOCKET";

    private final Path socket;

    public ControlClient(Path socket) {
        this.socket = socket;
    }

    public Path socket() {
        return socket;
    }

    /** The daemon could not be reached at all: not running, or not allowed to talk to it. */
    public static final class UnavailableException extends RuntimeException {
        UnavailableException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The daemon answered with an error; {@link #refused()} when it touched nothing. */
    public static final class DaemonException extends RuntimeException {
        private final boolean refused;

        DaemonException(String message, boolean refused) {
            super(message);
            this.refused = refused;
        }

        public boolean refused() {
            return refused;
        }
    }

    /** Sends {@code request} and returns the result object of the answer. */
    public JsonNode call(ObjectNode request, Consumer<JsonNode> progress) {
        // the request is written before the connection opens: the daemon waits ControlServer.REQUEST_WAIT for it, and a
        // first serialisation in a cold JVM on a slow machine (a TCG guest) took longer
        byte[] requestLine = (JsonLine.write(request) + "\n").getBytes(StandardCharsets.UTF_8);
        try (SocketChannel channel = open()) {
            OutputStream out = Channels.newOutputStream(channel);
            out.write(requestLine);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null; ) {
                JsonNode answer = JsonLine.read(line);
                if (answer.has("progress")) {
                    progress.accept(answer.get("progress"));
                    continue;
                }
                if (answer.path("ok").asBoolean(false)) {
                    return answer.path("result");
                }
                throw new DaemonException("pmigd: " + answer.path("error").asText("(no error message)"),
                        answer.path("refused").asBoolean(false));
            }
            throw new DaemonException("pmigd closed the control socket " + socket + " without an answer: see its log"
                    + " (journalctl -u pmigd)", false);
        } catch (IOException e) {
            throw new UnavailableException("the connection to pmigd on " + socket + " failed: " + e.getMessage(), e);
        }
    }

    public JsonNode call(ObjectNode request) {
        return call(request, progress -> { });
    }

    public static ObjectNode request(String op) {
        ObjectNode request = JsonLine.object();
        request.put("op", op);
        return request;
    }

    /** Whether a daemon accepts connections on this client's socket. */
    public boolean isAnswering() {
        return answers(socket);
    }

    /** Whether a daemon accepts connections on {@code socket} (a stale socket file refuses them). */
    static boolean answers(Path socket) {
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(socket));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private SocketChannel open() {
        if (!Files.exists(socket)) {
            throw new UnavailableException("pmigd is not running: there is no control socket " + socket + "; start it with"
                    + " systemctl start pmigd (or bin/pmigd --config /etc/pmig/pmigd.conf), or name its socket with"
                    + " --daemon-socket or " + SOCKET_VARIABLE, null);
        }
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            return channel;
        } catch (IOException e) {
            closeQuietly(channel);
            if (e instanceof AccessDeniedException || String.valueOf(e.getMessage()).contains("Permission denied")) {
                throw new UnavailableException("not allowed to talk to pmigd on " + socket + " (" + e.getMessage()
                        + "): run pmig as root, or as a user the socket's mode (control.socket.mode) lets in", e);
            }
            throw new UnavailableException("pmigd is not running: " + socket + " refuses connections (" + e.getMessage()
                    + "); start it with systemctl start pmigd (or bin/pmigd --config /etc/pmig/pmigd.conf)", e);
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // already failing: the first error is the one to report
            }
        }
    }
}
