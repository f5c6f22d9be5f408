package io.pmig.vip;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pmig.vip.nativeio.Namespaces;
import io.pmig.vip.nativeio.Net;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;

/**
 * Two network namespaces joined by a veth pair, made for each test and deleted after it even on
 * failure: A has {@value #IF_A} = {@value #ADDR_A}/24, B has {@value #IF_B} = {@value #ADDR_B}/24
 * (10.78.0.0/24 only). The test thread enters A (setns is per thread; sockets belong to the
 * creating thread's namespace); the host namespace is never changed.
 */
abstract class TwoNamespaces {
    static final String IF_A = "pmva";
    static final String IF_B = "pmvb";
    static final String ADDR_A = "10.78.0.1";
    static final String ADDR_B = "10.78.0.2";
    final String nsA = "pmig-vip-a-" + ProcessHandle.current().pid();
    final String nsB = "pmig-vip-b-" + ProcessHandle.current().pid();
    private final List<String> created = new ArrayList<>();
    private int home = -1;

    static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.substring(4).trim().split("\\s+")[1].equals("0");
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    @BeforeEach
    void makeNamespaces() throws Exception {
        Assumptions.assumeTrue(isRoot(), "VIP tests need root (network namespaces)");
        for (String ns : List.of(nsA, nsB)) {
            run("ip", "netns", "add", ns);
            created.add(ns);
        }
        // Created inside A with its peer moved straight to B: nothing appears in the host namespace.
        run("ip", "-n", nsA, "link", "add", IF_A, "type", "veth", "peer", "name", IF_B, "netns", nsB);
        run("ip", "-n", nsA, "addr", "add", ADDR_A + "/24", "dev", IF_A);
        run("ip", "-n", nsB, "addr", "add", ADDR_B + "/24", "dev", IF_B);
        for (String[] nsIf : new String[][] {{nsA, IF_A}, {nsB, IF_B}}) {
            run("ip", "-n", nsIf[0], "link", "set", "lo", "up");
            run("ip", "-n", nsIf[0], "link", "set", nsIf[1], "up");
        }
        home = Namespaces.currentNetwork();
        Namespaces.enterNetwork("/run/netns/" + nsA);
    }

    @AfterEach
    void removeNamespaces() throws Exception {
        try {
            if (home >= 0) {
                Namespaces.enterNetwork(home, "home");
                Net.close(home);
                home = -1;
            }
        } finally {
            for (String ns : created) {
                exec("ip", "netns", "del", ns);
            }
            created.clear();
        }
    }

    /** Runs a command, asserting it succeeds; returns its output. */
    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }

    /** Runs a command whatever its outcome; returns its exit status. */
    static int exec(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor();
    }

    /** Runs {@code body} on a thread of its own inside namespace B (its sockets live in B); returns its result. */
    <T> T inB(java.util.concurrent.Callable<T> body) throws Exception {
        java.util.concurrent.FutureTask<T> task = new java.util.concurrent.FutureTask<>(() -> {
            Namespaces.enterNetwork("/run/netns/" + nsB);
            return body.call();
        });
        Thread t = new Thread(task, "in " + nsB);
        t.start();
        try {
            return task.get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    /** TCP's retransmitted-segment count in namespace B (RetransSegs of /proc/net/snmp, read from inside B). */
    long retransmissionsInB() throws Exception {
        return inB(() -> {
            List<String> lines = Files.readAllLines(Paths.get("/proc/thread-self/net/snmp"));
            for (int i = 0; i + 1 < lines.size(); i++) {
                if (lines.get(i).startsWith("Tcp:") && lines.get(i + 1).startsWith("Tcp:")) {
                    List<String> names = List.of(lines.get(i).split("\\s+"));
                    return Long.parseLong(lines.get(i + 1).split("\\s+")[names.indexOf("RetransSegs")]);
                }
            }
            throw new IllegalStateException("no Tcp lines in /proc/net/snmp");
        });
    }

    String addrA() throws Exception {
        return run("ip", "-n", nsA, "-o", "addr", "show", "dev", IF_A);
    }

    String neighB(String ip) throws Exception {
        return run("ip", "-n", nsB, "neigh", "show", ip, "dev", IF_B);
    }

    String macA() throws Exception {
        return macOf(nsA, IF_A);
    }

    static String macOf(String ns, String dev) throws Exception {
        String out = run("ip", "-n", ns, "-o", "link", "show", "dev", dev);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("link/ether ([0-9a-f:]{17})").matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no MAC in: " + out);
        }
        return m.group(1);
    }
}
