package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The fault tests' view into the lab's nodes: their processes, addresses and daemons, seen from
 * here through nsenter (milliseconds, where {@code pmig lab exec} starts a JVM), and faults to
 * inflict on them: a daemon killed, a cut between the daemons.
 */
final class LabNodes {
    /** The nftables table that cuts node-b from node-a; removed to heal. */
    private static final String CUT_TABLE = "pmig-test-cut";

    private final LabLayout layout = new LabLayout(LabTestSupport.LAB);
    private final LabShell shell = new LabShell();
    private final Lab lab = new Lab(layout, shell);
    private final LabDaemons daemons = new LabDaemons(layout, shell);

    LabState.Host host(String name) {
        return lab.state().orElseThrow().host(name).orElseThrow();
    }

    /** Runs a command in the node's namespaces, from here; fails the test if it fails. */
    String inNode(String node, String... command) {
        LabShell.Result result = inNodeAttempt(node, command);
        assertTrue(result.ok(), result.failure());
        return result.out();
    }

    LabShell.Result inNodeAttempt(String node, String... command) {
        List<String> args = new ArrayList<>(List.of("nsenter", "--target", host(node).initPid().toString(), "--net", "--pid",
            "--mount", "--ipc", "--"));
        args.addAll(List.of(command));
        return shell.attempt(args.toArray(String[]::new));
    }

    /**
     * Exactly one copy of {@code pid} runs, on {@code node}, neither stopped nor traced; the VIP is
     * there alone, and only that node answers ARP for it.
     */
    void assertServiceOn(String node, String pid, String vip) {
        String other = node.equals("node-a") ? "node-b" : "node-a";
        assertEquals("stream-server", inNode(node, "cat", "/proc/" + pid + "/comm").strip(), "the service runs on " + node);
        assertFalse(isStopped(node, pid), "and is neither stopped nor traced");
        assertFalse(exists(other, pid), "no copy on " + other);
        assertTrue(addresses(node).contains(vip), "the VIP is on " + node);
        assertFalse(addresses(other).contains(vip), "the VIP is not on " + other);
        String arp = shell.attempt("ip", "netns", "exec", layout.netns("client"), "arping", "-c", "2", "-w", "3", "-I", "eth0", vip)
            .out();
        assertTrue(arp.contains(mac(node)) && !arp.contains(mac(other)), "only " + node + " answers ARP for the VIP: " + arp);
    }

    /**
     * Whether the node's process stopped: parked by pmig (frozen in its park cgroup, from its /proc cgroup; a group stop
     * on a host without the v2 freezer) or traced, from its /proc status.
     */
    boolean isStopped(String node, String pid) {
        return inNode(node, "cat", "/proc/" + pid + "/status").matches("(?s).*\\nState:\\s+[tT].*")
            || inNode(node, "cat", "/proc/" + pid + "/cgroup").contains("::/pmig/park-" + pid + "@");
    }

    long daemonPid(String node) {
        return daemons.pid(host(node)).orElseThrow(() -> new AssertionError("no pmigd runs on " + node));
    }

    /** Appends {@code lines} to the node's pmigd configuration and restarts its daemon with it. */
    void reconfigure(String node, String... lines) throws IOException {
        reconfigure(Map.of(node, List.of(lines)));
    }

    /**
     * Appends to each node's pmigd configuration its lines, then restarts those daemons with it: each once, all at
     * the same time, as pmig lab up starts them.
     */
    void reconfigure(Map<String, List<String>> linesByNode) throws IOException {
        for (Map.Entry<String, List<String>> node : linesByNode.entrySet()) {
            Files.writeString(daemons.configFile(node.getKey()), String.join("\n", node.getValue()) + "\n",
                StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        }
        for (String node : linesByNode.keySet()) {
            stopDaemon(node, ProcessHandle::destroy);
        }
        CompletableFuture.allOf(linesByNode.keySet().stream()
            .map(node -> CompletableFuture.runAsync(() -> daemons.restart(host(node)))).toArray(CompletableFuture[]::new)).join();
    }

    void killDaemon(String node) {
        stopDaemon(node, ProcessHandle::destroyForcibly);
    }

    /** Signals the node's daemon ({@code how}) and waits until it has exited: a new one could not bind its port before. */
    void stopDaemon(String node, Consumer<ProcessHandle> how) {
        long pid = daemonPid(node);
        ProcessHandle.of(pid).ifPresent(how);
        for (int i = 0; i < 6000 && ProcessHandle.of(pid).isPresent(); i++) {
            LabProcs.sleep(10);
        }
        assertFalse(ProcessHandle.of(pid).isPresent(), "the pmigd of " + node + " (pid " + pid + ") exited within a minute");
    }

    void restartDaemon(String node) {
        daemons.restart(host(node));
    }

    /** Waits until the node's daemon has logged {@code event} (e.g. fault-pause) {@code times} times in all. */
    void awaitLogged(String node, String event, int times) {
        for (int i = 0; i < 1200; i++) {
            try {
                String log = Files.readString(daemons.logFile(node), StandardCharsets.UTF_8);
                if (log.split(event, -1).length - 1 >= times) {
                    return;
                }
            } catch (IOException notYet) {
                // the log appears with the daemon
            }
            LabProcs.sleep(25);
        }
        throw new AssertionError("the pmigd of " + node + " never logged " + event);
    }

    /** Drops every packet between node-a's and node-b's own addresses (not the VIP's, not ARP), as a broken link would. */
    void cut() {
        String a = host("node-a").address();
        nft("node-b", "add table inet " + CUT_TABLE + "\n"
            + "add chain inet " + CUT_TABLE + " in { type filter hook input priority -400; }\n"
            + "add chain inet " + CUT_TABLE + " out { type filter hook output priority -400; }\n"
            + "add rule inet " + CUT_TABLE + " in ip saddr " + a + " drop\n"
            + "add rule inet " + CUT_TABLE + " out ip daddr " + a + " drop\n");
    }

    void heal() {
        shell.attempt("nsenter", "--net=" + LabLayout.netnsFile(layout.netns("node-b")), "--",
            "nft", "delete", "table", "inet", CUT_TABLE);
    }

    private void nft(String node, String script) {
        LabShell.Result r = shell.attempt("nsenter", "--net=" + LabLayout.netnsFile(layout.netns(node)), "--",
            "sh", "-c", "printf '" + script + "' | nft -f -");
        assertTrue(r.ok(), r.failure());
    }

    /** Waits until {@code pid} exists on {@code node}. */
    void awaitProcess(String node, String pid) {
        for (int i = 0; i < 20_000; i++) {
            if (exists(node, pid)) {
                return;
            }
        }
        throw new AssertionError("process " + pid + " never appeared on " + node);
    }

    void awaitGone(String node, String pid) {
        for (int i = 0; i < 200; i++) {
            if (!exists(node, pid)) {
                return;
            }
            LabProcs.sleep(50);
        }
        throw new AssertionError("process " + pid + " is still on " + node);
    }

    boolean exists(String node, String pid) {
        return inNodeAttempt(node, "test", "-d", "/proc/" + pid).exitCode() == 0;
    }

    /** The node's MAC address as arping prints it. */
    String mac(String node) {
        return inNode(node, "cat", "/sys/class/net/eth0/address").strip().toUpperCase();
    }

    String addresses(String node) {
        return inNode(node, "ip", "-o", "addr", "show", "dev", "eth0");
    }
}
