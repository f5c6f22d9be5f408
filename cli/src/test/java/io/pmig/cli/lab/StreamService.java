package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;

import io.pmig.cli.NativeProgram;

/**
 * The service the lab tests move: stream-server bound to a VIP on node-a, and stream-clients in
 * the client host that check every byte (cli/src/main/c).
 */
final class StreamService {
    static final String VIP = "10.77.0.50";
    static final String PORT = "7000";

    private StreamService() {
    }

    /**
     * Puts the VIP on node-a and starts stream-server on it with {@code serverArgs} (RATE_KB_PER_S
     * [MEMORY_MB]), under a PID free on node-b too (the daemon's JVM there takes the low ones);
     * returns the PID once the server listens.
     */
    static String startOnNodeA(String... serverArgs) throws InterruptedException {
        exec("node-a", "ip", "addr", "add", VIP + "/24", "dev", "eth0");
        exec("node-a", "sh", "-c", "echo 20000 > /proc/sys/kernel/ns_last_pid");
        return serverOnNodeA(serverArgs);
    }

    /** Stops server {@code pid} and starts another with {@code serverArgs}; returns its PID. */
    static String replaceOnNodeA(String pid, String... serverArgs) throws InterruptedException {
        return replaceOnNodeAAs(pid, 0, serverArgs);
    }

    /** {@link #replaceOnNodeA}, the new server running with user and group id {@code id} and no other group. */
    static String replaceOnNodeAAs(String pid, int id, String... serverArgs) throws InterruptedException {
        exec("node-a", "sh", "-c", "kill " + pid + "; while [ -d /proc/" + pid + " ]; do sleep 0.05; done");
        return serverOnNodeA(id, serverArgs);
    }

    /**
     * Puts the VIP on node-a and starts stream-serial-server on it (clients one at a time) with listen backlog
     * {@code backlog}, as {@link #startOnNodeA} does; returns its PID once it listens.
     */
    static String startSerialOnNodeA(int backlog) throws InterruptedException {
        exec("node-a", "ip", "addr", "add", VIP + "/24", "dev", "eth0");
        exec("node-a", "sh", "-c", "echo 20000 > /proc/sys/kernel/ns_last_pid");
        return programOnNodeA(0, "stream-serial-server", Integer.toString(backlog));
    }

    private static String serverOnNodeA(String... serverArgs) throws InterruptedException {
        return serverOnNodeA(0, serverArgs);
    }

    private static String serverOnNodeA(int id, String... serverArgs) throws InterruptedException {
        return programOnNodeA(id, "stream-server", serverArgs);
    }

    private static String programOnNodeA(int id, String program, String... serverArgs) throws InterruptedException {
        String server = exec("node-a", "sh", "-c", "setsid setpriv --reuid=" + id + " --regid=" + id + " --clear-groups "
            + program(program) + " " + VIP + " " + PORT + " "
            + String.join(" ", serverArgs) + " </dev/null >/dev/null 2>&1 & echo $!").strip();
        for (int i = 0; i < 200 && !exec("node-a", "ss", "-Htln", "sport = :" + PORT).contains(PORT); i++) {
            Thread.sleep(20);
        }
        return server;
    }

    /** A stream-client in the client host with {@code options}, connected, until the test asks for its verdict. */
    static StreamClient client(String... options) throws Exception {
        return clientOf(VIP, options);
    }

    /** {@link #client}, connecting to {@code address}: the VIP, or a name the client resolves. */
    static StreamClient clientOf(String address, String... options) throws Exception {
        return StreamClient.start(address, PORT, options);
    }

    static String program(String name) {
        return NativeProgram.path(name).toString();
    }
}
