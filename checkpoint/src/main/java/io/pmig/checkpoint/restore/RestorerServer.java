package io.pmig.checkpoint.restore;

import io.pmig.checkpoint.FailedException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code pmig-restorer serve}, started once for this JVM and kept running: it creates each restored process on request,
 * in a launcher it forks (checkpoint/src/main/c/restorer.c). Starting the restorer for every restore cost each restore
 * 2-4 ms of process start from a JVM (its spawn helper executed, then the restorer). The server ends when this JVM does
 * (its stdin closes). One request at a time.
 *
 * <p>The processes it creates live in its namespaces, which it has from the thread that started it: a request from a
 * thread in other namespaces (a test or a lab node that joined a network namespace on one thread) replaces it by one
 * started from that thread, as the engine uses the namespaces of its calling thread.
 */
final class RestorerServer {
    /** How long a stopped server may take to exit. */
    private static final long STOP_SECONDS = 5;
    private static RestorerServer running;

    /** The namespaces a restored process is made in, as /proc/thread-self/ns links them. */
    private static final List<String> NAMESPACES = List.of("net", "mnt", "uts", "ipc", "cgroup", "user", "pid", "pid_for_children",
        "time", "time_for_children");

    private final Path restorer;
    private final String namespaces;
    private final Process process;
    private final OutputStream requests;
    private final BufferedReader replies;

    private RestorerServer(Path restorer, String namespaces, Process process) {
        this.restorer = restorer;
        this.namespaces = namespaces;
        this.process = process;
        this.requests = process.getOutputStream();
        this.replies = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII));
    }

    /**
     * Sends {@code request} (a line without its newline: PID HOLE_ADDR HOLE_SIZE [options]) to the server of
     * {@code restorer}, started if none runs, and returns the lines of its reply. {@code pid}: the pid the request
     * creates, which a server holding it would refuse as taken: it is replaced first.
     */
    static synchronized List<String> request(Path restorer, String request, int pid) {
        String namespaces = callersNamespaces();
        for (int attempt = 1; ; attempt++) {
            // a new server may be given the pid itself: it is replaced at once, the next has another
            while (running == null || !running.restorer.equals(restorer) || !running.namespaces.equals(namespaces)
                    || !running.process.isAlive() || running.process.pid() == pid) {
                stopRunning();
                running = start(restorer, namespaces);
            }
            try {
                return running.exchange(request);
            } catch (IOException e) {
                stopRunning();
                if (attempt == 2) {
                    throw new FailedException("the restorer " + restorer + " failed: " + e.getMessage(), e);
                }
            }
        }
    }

    private List<String> exchange(String request) throws IOException {
        requests.write((request + "\n").getBytes(StandardCharsets.US_ASCII));
        requests.flush();
        List<String> lines = new ArrayList<>();
        for (String line = replies.readLine(); !"end".equals(line); line = replies.readLine()) {
            if (line == null) {
                throw new IOException("it ended before it replied" + (lines.isEmpty() ? "" : ": " + String.join("\n", lines)));
            }
            lines.add(line);
        }
        return lines;
    }

    /** The calling thread's namespaces, one link per kind this kernel has ("net:[4026531840] mnt:[...] ..."). */
    private static String callersNamespaces() {
        StringBuilder out = new StringBuilder();
        for (String kind : NAMESPACES) {
            try {
                out.append(Files.readSymbolicLink(Path.of("/proc/thread-self/ns", kind))).append(' ');
            } catch (IOException absent) {
                // a kind this kernel lacks (time namespaces before 5.6)
            }
        }
        return out.toString();
    }

    private static RestorerServer start(Path restorer, String namespaces) {
        try {
            return new RestorerServer(restorer, namespaces,
                new ProcessBuilder(restorer.toString(), "serve").redirectErrorStream(true).start());
        } catch (IOException e) {
            throw new FailedException("cannot start the restorer " + restorer + ": " + e.getMessage(), e);
        }
    }

    private static void stopRunning() {
        if (running == null) {
            return;
        }
        try {
            running.requests.close();
            if (!running.process.waitFor(STOP_SECONDS, TimeUnit.SECONDS)) {
                running.process.destroyForcibly().waitFor();
            }
        } catch (IOException ignored) {
            // its stdin is closed or broken either way: it ends
            running.process.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running.process.destroyForcibly();
        } finally {
            running = null;
        }
    }
}
