package io.pmig.cli.lab;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.daemon.Pmigd;
import io.pmig.daemon.certs.ClusterCertificates;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.control.ControlClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The pmigd of each lab node. {@code lab up} makes the lab's certificates ({@code pmig certs init}
 * into the state directory), writes each node's configuration (its address, the other nodes as
 * peers, TLS), mounts a tmpfs of the node's own on /run/pmig inside its mount namespace (so every
 * node has the default control socket /run/pmig/pmigd.sock, and {@code pmig status} run in a node
 * finds its daemon), and starts the daemon inside the node's namespaces. In a lab with DNS each
 * daemon's configuration names the lab's server, zone and TSIG key ({@link LabDns#daemonConfig}). {@code lab down} stops
 * the daemons with SIGTERM before the inits.
 */
final class LabDaemons {
    static final int PORT = DaemonConfig.DEFAULT_PORT;
    /** The control socket as seen inside each node. */
    static final Path SOCKET = DaemonConfig.DEFAULT_CONTROL_SOCKET;
    private static final String MAIN_CLASS = Pmigd.class.getName();
    private static final long START_MILLIS = 30_000;
    private static final long STOP_MILLIS = 5_000;
    static final String WARM_UP_VARIABLE = "PMIG_LAB_WARM_UP_MOVES";

    private final LabLayout layout;
    private final LabShell shell;
    private final LabDns dns;

    LabDaemons(LabLayout layout, LabShell shell) {
        this.layout = layout;
        this.shell = shell;
        this.dns = new LabDns(layout, shell);
    }

    Path certificates() {
        return layout.stateDirectory().resolve("certs");
    }

    Path configFile(String node) {
        return layout.stateDirectory().resolve(node + "-pmigd.conf");
    }

    Path logFile(String node) {
        return layout.stateDirectory().resolve(node + "-pmigd.log");
    }

    /** The node's control socket as the host reaches it: through its init's root, which sees the node's /run/pmig. */
    static Path socketFromHost(long initPid) {
        return Path.of("/proc", Long.toString(initPid), "root").resolve(SOCKET.toString().substring(1));
    }

    /** Certificates, configurations, /run/pmig mounts, then every daemon started and answering on its socket. */
    void start(LabState state) {
        List<LabState.Host> nodes = state.hosts().stream().filter(LabState.Host::isNode).toList();
        new ClusterCertificates(certificates()).init(nodes.stream().map(LabState.Host::name).toList(),
                ClusterCertificates.DEFAULT_VALIDITY);
        String dnsConfig = state.dns().map(dns::daemonConfig).orElse("");
        for (LabState.Host node : nodes) {
            writeConfig(node, nodes, dnsConfig);
            String init = node.initPid().toString();
            shell.run("nsenter", "--target", init, "--mount", "--", "mkdir", "-p", SOCKET.getParent().toString());
            shell.run("nsenter", "--target", init, "--mount", "--", "mount", "-t", "tmpfs", "-o", "mode=0755,size=4m",
                    "pmig-" + node.name(), SOCKET.getParent().toString());
            shell.run("nsenter", "--target", init, "--mount", "--", "sh", "-c", cgroupMounts());
            launch(node);
        }
        for (LabState.Host node : nodes) {
            awaitAnswering(node);
        }
    }

    /**
     * A shell script that mounts, in a node, the cgroup hierarchies a daemon places restored services in (the v2 one and
     * systemd's v1 one) where this host has them: the node's /sys is its network namespace's own sysfs, which has none.
     */
    static String cgroupMounts() {
        List<String> steps = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                // "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755" (proc(5))
                String[] f = line.split(" ");
                int dash = List.of(f).indexOf("-");
                String point = f[4];
                String type = f[dash + 1];
                if (!point.startsWith("/sys/fs/cgroup")) {
                    continue;
                }
                if (type.equals("tmpfs") || type.equals("cgroup2")) {
                    steps.add("mkdir -p " + point + " && mount -t " + type + " " + type + " " + point);
                } else if (type.equals("cgroup") && f[dash + 3].contains("name=systemd")) {
                    steps.add("mkdir -p " + point + " && mount -t cgroup -o none,name=systemd cgroup " + point);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/self/mountinfo", e);
        }
        return steps.isEmpty() ? "true" : String.join(" && ", steps);
    }

    /** Starts the node's daemon again (after it died), with the configuration and /run/pmig it had; waits until it answers. */
    void restart(LabState.Host node) {
        launch(node);
        awaitAnswering(node);
    }

    private void launch(LabState.Host node) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        shell.runDetached(List.of("nsenter", "--target", node.initPid().toString(), "--net", "--pid", "--mount", "--ipc", "--",
                "setsid", "--fork", java, "-XX:+UseSerialGC", "-XX:-UsePerfData", "-Xshare:auto", "-cp",
                System.getProperty("java.class.path"), MAIN_CLASS, "--config", configFile(node.name()).toString()),
                logFile(node.name()));
    }

    /** The host PID of the node's running pmigd, if one runs. */
    Optional<Long> pid(LabState.Host node) {
        if (node.initPid() == null) {
            return Optional.empty();
        }
        return LabProcs.inPidNamespaceOf(node.initPid(), MAIN_CLASS).stream().findFirst();
    }

    /** Sends SIGTERM to the daemons in the nodes of these inits and waits for them; node name to the PID stopped. */
    Map<String, Long> stop(Map<String, Long> initsByNode) {
        Map<String, Long> daemons = new LinkedHashMap<>();
        initsByNode.forEach((node, init) -> LabProcs.inPidNamespaceOf(init, MAIN_CLASS).forEach(pid -> daemons.put(node, pid)));
        daemons.values().forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy));
        // what outlives the wait dies with its node's init
        LabProcs.awaitGone(new ArrayList<>(daemons.values()), STOP_MILLIS);
        return daemons;
    }

    private void writeConfig(LabState.Host node, List<LabState.Host> nodes, String dnsConfig) {
        Path certs = certificates();
        StringBuilder text = new StringBuilder("# pmigd of lab node " + node.name() + ", written by pmig lab up\n")
                .append("node.name = ").append(node.name()).append('\n')
                .append("listen = ").append(node.address()).append(':').append(PORT).append('\n')
                .append("vip.interface = ").append(LabLayout.INTERFACE).append('\n')
                .append("tls.ca = ").append(certs.resolve(ClusterCertificates.CA_CERT)).append('\n')
                .append("tls.cert = ").append(ClusterCertificates.certificate(certs, node.name())).append('\n')
                .append("tls.key = ").append(ClusterCertificates.key(certs, node.name())).append('\n')
                .append("control.socket = ").append(SOCKET).append('\n')
                // the node's own tmpfs: the machine's /var/lib/pmig is every node's (they share their files)
                .append("state.directory = ").append(SOCKET.getParent()).append('\n')
                .append(dnsConfig);
        warmUpMoves().ifPresent(moves -> text.append("engine.warm-up.moves = ").append(moves).append('\n'));
        for (LabState.Host peer : nodes) {
            if (!peer.name().equals(node.name())) {
                text.append("peer.").append(peer.name()).append(" = ").append(peer.address()).append(':').append(PORT).append('\n');
            }
        }
        try {
            Files.writeString(configFile(node.name()), text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new FailedException("cannot write " + configFile(node.name()) + ": " + e, e);
        }
    }

    /**
     * The daemons' engine.warm-up.moves when {@value #WARM_UP_VARIABLE} sets it (the tests: 1, so that no daemon spends
     * their cores on throw-away moves); else the daemon's default, as a real node's.
     */
    private static Optional<Integer> warmUpMoves() {
        String value = System.getenv(WARM_UP_VARIABLE);
        if (value == null || value.isEmpty()) {
            return Optional.empty();
        }
        try {
            int moves = Integer.parseInt(value.strip());
            if (moves >= 1) {
                return Optional.of(moves);
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new RefusedException(WARM_UP_VARIABLE + "=" + value + " is not a number of moves: set it to 1 or more (the daemons'"
                + " engine.warm-up.moves), or unset it for their default");
    }

    private void awaitAnswering(LabState.Host node) {
        long deadline = System.currentTimeMillis() + START_MILLIS;
        ControlClient client = new ControlClient(socketFromHost(node.initPid()));
        long started = System.currentTimeMillis();
        while (!client.isAnswering()) {
            if (System.currentTimeMillis() - started > 2_000 && pid(node).isEmpty()) {
                throw new FailedException("the pmigd of " + node.name() + " exited: " + LabShell.tail(logFile(node.name())));
            }
            if (System.currentTimeMillis() > deadline) {
                throw new FailedException("the pmigd of " + node.name() + " did not answer on " + SOCKET + " within "
                        + START_MILLIS / 1000 + " s: " + LabShell.tail(logFile(node.name())));
            }
            LabProcs.sleep(20);
        }
    }
}
