package io.pmig.cli.lab;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The lab on this machine: builds it ({@link #up}), reports it ({@link #status}), runs commands in
 * it ({@link #execCommand}) and removes it ({@link #down}). It touches nothing outside its own
 * namespaces: the bridge lives in the switch namespace, each host's veth pair is created there
 * with its other end directly in the host's namespace, and every sysctl is set inside a lab
 * namespace.
 */
final class Lab {
    private static final long INIT_START_MILLIS = 5_000;
    private static final long STOP_MILLIS = 3_000;

    private final LabLayout layout;
    private final LabShell shell;
    private final LabDaemons daemons;
    private final LabDns dns;

    Lab(LabLayout layout, LabShell shell) {
        this.layout = layout;
        this.shell = shell;
        this.dns = new LabDns(layout, shell);
        this.daemons = new LabDaemons(layout, shell);
    }

    LabLayout layout() {
        return layout;
    }

    Optional<LabState> state() {
        return LabState.read(layout.stateFile());
    }

    // ---- up ----

    /** What {@link #up} found or built; {@code created} is false when the same lab was already up. */
    record Up(LabState state, boolean created) {
    }

    /**
     * Builds a lab of {@code nodes} nodes and a client on {@code subnet}, with {@code withDns} also the DNS server's
     * host ({@link LabDns}). A lab of the same shape
     * that is up and whole is left as it is; any other lab, or leftovers of one, are refused.
     * When building fails half-way, what was built is removed again.
     */
    Up up(int nodes, Subnet subnet, boolean withDns, Path initBinary) {
        try (LabLock lock = LabLock.take(layout)) {
            return upLocked(nodes, subnet, withDns, initBinary);
        }
    }

    private Up upLocked(int nodes, Subnet subnet, boolean withDns, Path initBinary) {
        Optional<LabState> existing = state();
        if (existing.isPresent()) {
            LabState state = existing.get();
            if (state.nodeCount() != nodes || !state.subnet().equals(subnet.toString()) || state.dns().isPresent() != withDns) {
                throw new RefusedException("a lab is already up with " + state.shape() + " (" + layout.stateFile()
                        + "), not " + nodes + (nodes == 1 ? " node" : " nodes") + " on " + subnet + (withDns ? " with DNS" : "")
                        + ": run pmig lab down first");
            }
            List<String> damage = damage(state);
            if (!damage.isEmpty()) {
                throw new RefusedException("the lab with " + state.shape() + " is up but damaged: "
                        + String.join("; ", damage) + ": run pmig lab down, then pmig lab up again");
            }
            return new Up(state, false);
        }
        List<String> leftovers = leftovers(Optional.empty());
        if (!leftovers.isEmpty()) {
            throw new RefusedException("leftovers of an earlier lab are there without its state file "
                    + layout.stateFile() + ": " + String.join(", ", leftovers) + ": run pmig lab down to remove them");
        }
        LabShell.requireTools("ip", "unshare", "nsenter", "setsid", "sysctl");
        if (withDns) {
            LabDns.requireNamed();
        }
        LabState plan = new LabState(LabState.VERSION, layout.name(), subnet.toString(), layout.switchNetns(),
                LabLayout.BRIDGE, layout.plan(nodes, subnet, withDns));
        // Ctrl-C half-way removes the half-built lab too (this JVM holds the lock until it exits).
        Thread cleanUpOnExit = new Thread(this::removeQuietly, "pmig-lab-up-clean-up");
        Runtime.getRuntime().addShutdownHook(cleanUpOnExit);
        try {
            return new Up(build(plan, initBinary), true);
        } catch (RuntimeException e) {
            throw new FailedException("building the lab failed: " + e.getMessage() + "; " + removeQuietly(), e);
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(cleanUpOnExit);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
    }

    private LabState build(LabState plan, Path initBinary) {
        try {
            Files.createDirectories(layout.stateDirectory());
        } catch (IOException e) {
            throw new FailedException("cannot create " + layout.stateDirectory() + ": " + e, e);
        }
        String sw = plan.switchNetns();
        shell.run("ip", "netns", "add", sw);
        shell.ip(sw, "link", "set", "lo", "up");
        shell.ip(sw, "link", "add", LabLayout.BRIDGE, "type", "bridge");
        shell.ip(sw, "link", "set", LabLayout.BRIDGE, "up");
        for (LabState.Host host : plan.hosts()) {
            String ns = host.netns();
            shell.run("ip", "netns", "add", ns);
            // Before eth0 exists, so that eth0 takes default's 0 too (the kernel uses the larger of all and eth0).
            shell.run("ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                    "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0");
            shell.ip(ns, "link", "set", "lo", "up");
            shell.ip(sw, "link", "add", host.bridgePort(), "type", "veth", "peer", "name", LabLayout.INTERFACE, "netns", ns);
            shell.ip(sw, "link", "set", host.bridgePort(), "master", LabLayout.BRIDGE, "up");
            shell.ip(ns, "addr", "add", host.address() + "/" + host.prefixLength(), "dev", LabLayout.INTERFACE);
            shell.ip(ns, "link", "set", LabLayout.INTERFACE, "up");
        }
        List<LabState.Host> hosts = startInits(plan.hosts(), initBinary);
        LabState state = new LabState(plan.version(), plan.name(), plan.subnet(), plan.switchNetns(), plan.bridge(), hosts);
        state.write(layout.stateFile());
        state.dns().ifPresent(server -> {
            dns.start(server);
            state.hosts().stream().filter(h -> h.role().equals(LabLayout.CLIENT_ROLE)).forEach(client -> dns.serveResolver(client, server));
        });
        daemons.start(state);
        return state;
    }

    /**
     * Starts each node's init in its network namespace, in a PID, mount and IPC namespace of its own
     * with its own /proc (System V IPC ids, like PIDs, are a host's: two nodes must not share them), detached from the JVM (setsid --fork), and finds its host PID in /proc.
     */
    private List<LabState.Host> startInits(List<LabState.Host> hosts, Path initBinary) {
        for (LabState.Host host : hosts) {
            if (host.isNode()) {
                Path log = layout.logFile(host.name());
                try {
                    Files.deleteIfExists(log);
                } catch (IOException e) {
                    throw new FailedException("cannot remove the old " + log + ": " + e, e);
                }
                shell.runDetached(List.of("ip", "netns", "exec", host.netns(), "setsid", "--fork",
                        "unshare", "--pid", "--mount", "--ipc", "--fork", "--mount-proc", "--propagation", "private",
                        initBinary.toString(), host.netns()), log);
            }
        }
        List<LabState.Host> started = new ArrayList<>();
        for (LabState.Host host : hosts) {
            started.add(host.isNode() ? awaitInit(host) : host);
        }
        return started;
    }

    private LabState.Host awaitInit(LabState.Host host) {
        long deadline = System.currentTimeMillis() + INIT_START_MILLIS;
        Optional<String> netns = LabProcs.netnsOfFile(host.netns());
        while (true) {
            for (LabProcs.Init init : LabProcs.findInits()) {
                if (init.netnsArgument().equals(host.netns()) && netns.isPresent()
                        && LabProcs.netns(init.pid()).equals(netns)) {
                    return host.withInit(init.pid(), init.startTime());
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new FailedException("the init of " + host.name() + " did not start in "
                        + INIT_START_MILLIS / 1000 + " s: " + LabShell.tail(layout.logFile(host.name())));
            }
            LabProcs.sleep(5);
        }
    }

    // ---- status ----

    /**
     * One host as it is now: whether its namespace exists, whether its init runs, the IPv4 addresses
     * of its eth0, and the host PID of a node's running pmigd or of the dns host's named.
     */
    record HostStatus(LabState.Host host, boolean netnsExists, boolean initAlive, List<String> addresses,
            Optional<Long> daemonPid) {
        /** A node is alive while its init runs, the dns host while its named runs, the client while its namespace exists. */
        boolean alive() {
            return host.isNode() ? initAlive : LabDns.ROLE.equals(host.role()) ? daemonPid.isPresent() : netnsExists;
        }

        /** The addresses on eth0 besides the host's own: VIPs. */
        List<String> extraAddresses() {
            String own = host.address() + "/" + host.prefixLength();
            return addresses.stream().filter(a -> !a.equals(own)).toList();
        }
    }

    /** The lab as it is now; without a state file only {@code leftovers} can say anything. */
    record Status(Optional<LabState> state, boolean switchExists, boolean bridgeExists, List<HostStatus> hosts,
            List<String> leftovers) {
        boolean healthy() {
            return state.isPresent() && switchExists && bridgeExists && leftovers.isEmpty()
                    && hosts.stream().allMatch(h -> h.alive() && h.netnsExists() && (!h.host().isNode() || h.daemonPid().isPresent()));
        }
    }

    Status status() {
        Optional<LabState> state = state();
        if (state.isEmpty()) {
            return new Status(state, false, false, List.of(), leftovers(state));
        }
        boolean switchExists = Files.exists(LabLayout.netnsFile(state.get().switchNetns()));
        boolean bridgeExists = switchExists && shell.attempt("ip", "-n", state.get().switchNetns(),
                "link", "show", "dev", state.get().bridge()).ok();
        List<HostStatus> hosts = new ArrayList<>();
        for (LabState.Host host : state.get().hosts()) {
            boolean netnsExists = Files.exists(LabLayout.netnsFile(host.netns()));
            boolean initAlive = host.isNode() && LabProcs.isInit(host.initPid(), host.initStartTime());
            Optional<Long> daemonPid = LabDns.ROLE.equals(host.role()) ? dns.pid(host)
                    : initAlive ? daemons.pid(host) : Optional.empty();
            hosts.add(new HostStatus(host, netnsExists, initAlive, netnsExists ? addresses(host.netns()) : List.of(), daemonPid));
        }
        return new Status(state, switchExists, bridgeExists, hosts, leftovers(state));
    }

    /** The IPv4 addresses (with prefix length) on eth0 of a namespace, from `ip -j`. */
    private List<String> addresses(String netns) {
        LabShell.Result result = shell.attempt("ip", "-n", netns, "-j", "-4", "addr", "show", "dev", LabLayout.INTERFACE);
        if (!result.ok()) {
            return List.of();
        }
        List<String> addresses = new ArrayList<>();
        try {
            for (JsonNode link : LabState.MAPPER.readTree(result.out())) {
                for (JsonNode address : link.path("addr_info")) {
                    if (address.path("family").asText().equals("inet")) {
                        addresses.add(address.path("local").asText() + "/" + address.path("prefixlen").asInt());
                    }
                }
            }
        } catch (IOException e) {
            throw new FailedException("cannot parse the output of `" + String.join(" ", result.command()) + "`: " + e, e);
        }
        return addresses;
    }

    /** What is wrong with a lab that has a state file; empty when it is whole. */
    private List<String> damage(LabState state) {
        Status status = status();
        List<String> damage = new ArrayList<>();
        if (!status.switchExists()) {
            damage.add("netns " + state.switchNetns() + " is missing");
        } else if (!status.bridgeExists()) {
            damage.add("bridge " + state.bridge() + " is missing in " + state.switchNetns());
        }
        for (HostStatus host : status.hosts()) {
            if (!host.netnsExists()) {
                damage.add("netns " + host.host().netns() + " is missing");
            }
            if (host.host().isNode() && !host.initAlive()) {
                damage.add("the init of " + host.host().name() + " (pid " + host.host().initPid() + ") is not running");
            } else if (host.host().isNode() && host.daemonPid().isEmpty()) {
                damage.add("the pmigd of " + host.host().name() + " is not running (" + LabShell.tail(daemons.logFile(host.host().name())) + ")");
            } else if (LabDns.ROLE.equals(host.host().role()) && host.daemonPid().isEmpty()) {
                damage.add("the named of host " + LabDns.HOST + " is not running (" + LabShell.tail(dns.logFile()) + ")");
            }
        }
        return damage;
    }

    /** Namespaces and inits named like this lab's that the state (if any) does not account for. */
    private List<String> leftovers(Optional<LabState> state) {
        TreeSet<String> known = new TreeSet<>();
        List<Long> knownInits = new ArrayList<>();
        state.ifPresent(s -> {
            known.add(s.switchNetns());
            s.hosts().forEach(h -> {
                known.add(h.netns());
                if (h.initPid() != null) {
                    knownInits.add(h.initPid());
                }
            });
        });
        List<String> leftovers = new ArrayList<>();
        for (String netns : labNamespaces()) {
            if (!known.contains(netns)) {
                leftovers.add("netns " + netns);
            }
        }
        for (LabProcs.Init init : LabProcs.findInits()) {
            if (layout.isLabNetns(init.netnsArgument()) && !knownInits.contains(init.pid())) {
                leftovers.add("init pid " + init.pid() + " of " + init.netnsArgument());
            }
        }
        return leftovers;
    }

    /** The network namespaces in /run/netns named like this lab's, the switch last. */
    private List<String> labNamespaces() {
        List<String> names = new ArrayList<>();
        if (!Files.isDirectory(LabLayout.NETNS_DIRECTORY)) {
            return names;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(LabLayout.NETNS_DIRECTORY)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (layout.isLabNetns(name)) {
                    names.add(name);
                }
            }
        } catch (IOException e) {
            throw new FailedException("cannot list " + LabLayout.NETNS_DIRECTORY + ": " + e, e);
        }
        names.sort(Comparator.comparing((String n) -> n.equals(layout.switchNetns())).thenComparing(n -> n));
        return names;
    }

    // ---- exec ----

    /** Thrown when the host named to exec is not in the lab: a usage error. */
    static final class UnknownHostException extends RuntimeException {
        UnknownHostException(String message) {
            super(message);
        }
    }

    /** The nsenter command line that runs {@code command} in the namespaces of host {@code hostName}. */
    List<String> execCommand(String hostName, List<String> command) {
        LabState state = state().orElseThrow(() -> new RefusedException(
                "no lab is up (there is no " + layout.stateFile() + "): run pmig lab up first"));
        LabState.Host host = state.host(hostName).orElseThrow(() -> new UnknownHostException(
                "there is no host '" + hostName + "' in the lab; it has " + String.join(", ", state.hostNames())));
        List<String> argv = new ArrayList<>();
        if (host.isNode()) {
            if (!LabProcs.isInit(host.initPid(), host.initStartTime())) {
                throw new RefusedException("the init of " + host.name() + " (pid " + host.initPid()
                        + ") is not running: run pmig lab down, then pmig lab up again");
            }
            // --wd: entering the mount namespace would put CMD in /; the node sees the same files, so keep the caller's directory
            argv.addAll(List.of("nsenter", "--target", host.initPid().toString(), "--net", "--pid", "--mount", "--ipc",
                    "--wd=" + System.getProperty("user.dir"), "--"));
        } else {
            if (!Files.exists(LabLayout.netnsFile(host.netns()))) {
                throw new RefusedException("netns " + host.netns() + " of " + host.name()
                        + " is missing: run pmig lab down, then pmig lab up again");
            }
            // ip netns exec: it also puts the host's own /etc/netns files (the lab's resolv.conf) in place
            argv.addAll(List.of("ip", "netns", "exec", host.netns()));
        }
        argv.addAll(command);
        return argv;
    }

    int exec(String hostName, List<String> command) {
        return shell.passThrough(execCommand(hostName, command));
    }

    // ---- down ----

    /** What {@link #down} removed; all empty and false when there was nothing. */
    record Down(Map<String, Long> stoppedDaemons, Map<String, Long> stoppedInits, List<Long> killedProcesses,
            List<String> deletedNamespaces, List<Path> removedFiles) {
        boolean removedNothing() {
            return stoppedDaemons.isEmpty() && stoppedInits.isEmpty() && killedProcesses.isEmpty() && deletedNamespaces.isEmpty()
                    && removedFiles.isEmpty();
        }
    }

    /**
     * Removes the lab: stops the node inits (SIGTERM; the kernel then kills everything in their PID
     * namespaces), kills whatever else still runs in the lab's network namespaces, deletes the
     * namespaces and the state directory. Finds everything by the lab's names too, so it also
     * cleans up after a crash without a state file, and does nothing the second time.
     */
    Down down() {
        try (LabLock lock = LabLock.take(layout)) {
            return remove();
        }
    }

    /** {@link #down} without the lock, which the caller holds. */
    private synchronized Down remove() {
        Optional<LabState> state;
        try {
            state = state();
        } catch (RuntimeException unreadable) {
            state = Optional.empty(); // the names find everything anyway; the file is removed below
        }
        Map<String, Long> inits = new LinkedHashMap<>();
        state.ifPresent(s -> s.hosts().forEach(h -> {
            if (h.isNode() && LabProcs.isInit(h.initPid(), h.initStartTime())) {
                inits.put(h.name(), h.initPid());
            }
        }));
        for (LabProcs.Init init : LabProcs.findInits()) {
            if (layout.isLabNetns(init.netnsArgument()) && !inits.containsValue(init.pid())) {
                inits.put(init.netnsArgument().substring(layout.name().length() + 1), init.pid());
            }
        }
        // Each init's parent, the unshare that started it, exits by itself once it has reaped the init.
        List<Long> unshares = new ArrayList<>();
        for (long init : inits.values()) {
            LabProcs.parent(init).filter(p -> LabProcs.comm(p).equals(Optional.of("unshare"))).ifPresent(unshares::add);
        }
        // the daemons first, so that they close their sessions and sockets themselves
        Map<String, Long> stoppedDaemons = daemons.stop(inits);
        stop(new ArrayList<>(inits.values()), false);
        LabProcs.awaitGone(unshares, STOP_MILLIS);

        List<String> namespaces = labNamespaces();
        List<Long> killed = new ArrayList<>();
        for (String netns : namespaces) {
            for (String pid : shell.run("ip", "netns", "pids", netns).split("\\s+")) {
                if (!pid.isEmpty() && Long.parseLong(pid) != ProcessHandle.current().pid()) {
                    killed.add(Long.parseLong(pid));
                }
            }
        }
        stop(killed, true);
        List<Path> removed = new ArrayList<>();
        for (String netns : namespaces) {
            shell.run("ip", "netns", "del", netns);
            removeTree(LabLayout.netnsEtc(netns)).ifPresent(removed::add);
        }
        removeIfEmpty(LabLayout.NETNS_ETC_DIRECTORY);
        removed.addAll(removeFiles());
        return new Down(stoppedDaemons, inits, killed, namespaces, removed);
    }

    /** {@link #remove} for clean-up after a failure: never throws, says what it did or what is left. */
    private String removeQuietly() {
        try {
            Down down = remove();
            return down.removedNothing() ? "nothing had been created" : "what it had created was removed again";
        } catch (RuntimeException e) {
            return "removing what it had created failed too (" + e.getMessage() + "): run pmig lab down";
        }
    }

    /** SIGTERM (or SIGKILL right away), then SIGKILL for what lingers; fails if something outlives SIGKILL. */
    private static void stop(List<Long> pids, boolean kill) {
        for (long pid : pids) {
            ProcessHandle.of(pid).ifPresent(p -> {
                if (kill) {
                    p.destroyForcibly();
                } else {
                    p.destroy();
                }
            });
        }
        List<Long> left = LabProcs.awaitGone(pids, STOP_MILLIS);
        if (!left.isEmpty() && !kill) {
            left.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
            left = LabProcs.awaitGone(left, STOP_MILLIS);
        }
        if (!left.isEmpty()) {
            throw new FailedException("pids " + left + " in the lab's namespaces did not die on SIGKILL");
        }
    }

    /** Removes {@code directory} if nothing is in it (the lab may have made it). */
    private static void removeIfEmpty(Path directory) {
        try {
            Files.deleteIfExists(directory);
        } catch (IOException inUse) {
            // another lab's or the host's files are in it: it stays
        }
    }

    /** Removes a directory the lab made with everything in it; the directory, if it was there. */
    private static Optional<Path> removeTree(Path directory) {
        if (!Files.isDirectory(directory)) {
            return Optional.empty();
        }
        try (Stream<Path> files = Files.walk(directory)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(file);
            }
            return Optional.of(directory);
        } catch (IOException e) {
            throw new FailedException("cannot remove " + directory + ": " + e, e);
        }
    }

    /**
     * Removes the state file, the logs and configurations, the certificates, the DNS server's directory, and the state
     * directory when nothing else is in it.
     */
    private List<Path> removeFiles() {
        List<Path> removed = new ArrayList<>();
        Path dir = layout.stateDirectory();
        try {
            if (Files.isDirectory(dir)) {
                // named is gone with the lab's namespaces by now
                for (Path subdirectory : List.of(daemons.certificates(), dns.directory())) {
                    removeTree(subdirectory).ifPresent(removed::add);
                }
                try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, "{state.json,state.json.tmp,*.log,*.conf}")) {
                    for (Path entry : entries) {
                        if (Files.deleteIfExists(entry)) {
                            removed.add(entry);
                        }
                    }
                }
                removed.sort(null);
                Files.delete(dir);
                removed.add(dir);
            }
        } catch (DirectoryNotEmptyException | NoSuchFileException e) {
            // someone else's file is in it, or it went away: leave it
        } catch (IOException e) {
            throw new FailedException("cannot remove " + dir + ": " + e, e);
        }
        return removed;
    }
}
