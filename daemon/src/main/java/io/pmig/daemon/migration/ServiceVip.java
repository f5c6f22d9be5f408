package io.pmig.daemon.migration;

import io.pmig.checkpoint.TcpConnection;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.vip.VipException;
import io.pmig.vip.VipManager;
import io.pmig.vip.netlink.InterfaceAddress;
import io.pmig.vip.source.SourceAddress;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The VIP a process serves on: the one VIP of this node's interface that its sockets are bound to
 * (found by matching the inodes of its socket descriptors against /proc/PID/net/{tcp,tcp6,udp,udp6}),
 * or the one the operator names. A VIP is never a node's own address, and moves only with the
 * processes that alone use it.
 */
record ServiceVip(InetAddress address, int prefix) {
    /** The VIP named by the operator, which must be on this node's interface. */
    static ServiceVip named(VipManager vips, InetAddress address) {
        return vips.interfaceAddresses().stream().filter(a -> a.address().equals(address)).findFirst()
            .map(a -> new ServiceVip(a.address(), a.prefix()))
            .orElseThrow(() -> new ControlRefusedException(address.getHostAddress() + " is not on "
                + vips.iface() + " of this node; give the VIP the service uses (pmig vip list shows this node's)"));
    }

    /** The VIP process {@code pid} is bound to, if any; refused when it uses several. */
    static Optional<ServiceVip> of(int pid, List<InterfaceAddress> interfaceAddresses) {
        Set<InetAddress> bound = boundBy(pid);
        List<InterfaceAddress> vips = interfaceAddresses.stream().filter(InterfaceAddress::isVip).filter(a -> bound.contains(a.address())).toList();
        if (vips.size() > 1) {
            throw new ControlRefusedException("process " + pid + " uses several VIPs ("
                + vips.stream().map(a -> a.address().getHostAddress()).collect(Collectors.joining(", ")) + "); name one with --vip");
        }
        return vips.stream().findFirst().map(a -> new ServiceVip(a.address(), a.prefix()));
    }

    /** The local addresses of process {@code pid}'s TCP and UDP sockets. */
    private static Set<InetAddress> boundBy(int pid) {
        Set<Long> inodes = NetSockets.inodesOf(pid);
        return NetSockets.ofNamespaceOf(pid).stream().filter(s -> inodes.contains(s.inode()))
            .map(NetSockets.Socket::local).collect(Collectors.toSet());
    }

    /**
     * Refuses unless process {@code pid} has a socket bound to this VIP: a user other than root
     * names only a VIP their own service uses, never one of somebody else's that no socket holds
     * at the moment.
     */
    void requireUsedBy(int pid, String node) {
        if (!boundBy(pid).contains(address)) {
            throw new ControlRefusedException("process " + pid + " has no socket bound to " + address.getHostAddress() + " on " + node
                + ": a user moves only a VIP their own service uses (root may move any)");
        }
    }

    /**
     * Refuses a VIP that is a node's address: {@code node}'s own on its VIP interface (one that is
     * not a VIP) or on another interface, its peer listen address, a configured peer's address; or
     * the network or broadcast address of one of the VIP interface's subnets. Both ends check: a
     * source could be wrong.
     */
    void requireNoNodesAddress(String node, VipManager here, DaemonConfig config) {
        requireNoNodesAddress(node, here.interfaceAddresses(), here.nodeAddresses(), here.iface(), config);
    }

    /** {@link #requireNoNodesAddress(String, VipManager, DaemonConfig)} with the addresses given: the interface's and all the node's. */
    void requireNoNodesAddress(String node, List<InterfaceAddress> interfaceAddresses, List<InterfaceAddress> nodeAddresses,
                               String iface, DaemonConfig config) {
        String vip = address.getHostAddress();
        boolean onInterface = interfaceAddresses.stream().anyMatch(a -> a.address().equals(address));
        if (!onInterface && nodeAddresses.stream().anyMatch(a -> a.address().equals(address))) {
            throw new ControlRefusedException(vip + " is one of " + node + "'s own addresses (on an interface other than " + iface
                + "), not a VIP");
        }
        for (InterfaceAddress a : interfaceAddresses) {
            if (a.address().equals(address) && !a.isVip()) {
                throw new ControlRefusedException(vip + " is " + node + "'s own address on " + iface + ", not a VIP: moving it would"
                    + " cut " + node + " off its segment; give the VIP the service uses (pmig vip list --dev " + iface
                    + " shows them)");
            }
            if (!a.isVip()) {
                a.reservedInSubnet(address).ifPresent(why -> {
                    throw new ControlRefusedException(why + " on " + node + "'s " + iface + ", not a host's address: it cannot be a VIP");
                });
            }
        }
        if (addresses(config.listen().host()).contains(address)) {
            throw new ControlRefusedException(vip + " is " + node + "'s own peer address (listen in " + config.source()
                + "), not a VIP");
        }
        for (Map.Entry<String, HostPort> peer : config.peers().entrySet()) {
            if (addresses(peer.getValue().host()).contains(address)) {
                throw new ControlRefusedException(vip + " is the address of " + peer.getKey() + " (" + DaemonConfig.PEER_PREFIX
                    + peer.getKey() + " in " + config.source() + "), not a VIP: moving it would cut " + peer.getKey() + " off");
            }
        }
    }

    /**
     * Refuses unless the processes {@code moved} alone use this VIP on this node: no other
     * process holds a TCP or UDP socket bound to it (it would lose the address, or, moved along,
     * answer for it elsewhere without its own process). Sockets of the namespace of
     * {@code moved}'s first process are looked at. A socket that no process holds any more (a
     * connection the service closed or accepted while the table was read: a busy server's churn) is
     * nobody's use.
     */
    void requireUsedAloneBy(List<Integer> moved, String node) {
        Set<Long> own = new HashSet<>();
        moved.forEach(pid -> own.addAll(NetSockets.inodesOf(pid)));
        Set<Long> others = new HashSet<>();
        for (NetSockets.Socket s : NetSockets.ofNamespaceOf(moved.get(0))) {
            if (s.local().equals(address) && s.inode() != 0 && !own.contains(s.inode())) {
                others.add(s.inode());
            }
        }
        List<String> users = new ArrayList<>();
        NetSockets.holders(others).values().stream().filter(pid -> !moved.contains(pid)).distinct().sorted()
            .forEach(pid -> users.add("process " + pid + " (" + describe(pid) + ")"));
        if (users.isEmpty()) {
            return;
        }
        throw new ControlRefusedException(address.getHostAddress() + " is also used on " + node + " by " + String.join(", ", users)
            + ": a VIP moves with the one service that uses it alone; give each service a VIP of its own");
    }

    /**
     * Refuses a move that would break a TCP connection: one whose local address is not the service's VIP stays with
     * this node (its own address, or loopback to a process here), so the copy could not have it — and a peer on this
     * node would be cut off from its other end.
     */
    static void requireConnectionsOn(Optional<ServiceVip> vip, List<TcpConnection> connections, String node) {
        for (TcpConnection c : connections) {
            InetAddress local = c.local().getAddress();
            if (vip.isEmpty() || !local.equals(vip.get().address())) {
                throw new ControlRefusedException("the TCP connection " + c + " is on " + local.getHostAddress() + ", an address"
                    + " that stays on " + node + vip.map(v -> " (the service's VIP is " + v.address().getHostAddress() + ")")
                        .orElse(" (the service has no VIP)") + ": moving would break it; bind the service to its VIP, and"
                    + " have its clients and the services it uses reach it there");
            }
        }
    }

    /**
     * The VIP process {@code pid}'s cgroup pins its sockets' source address to, if any; refused when it is not the
     * VIP that moves with it (the copy's connections would then leave from an address the destination lacks).
     */
    static Optional<InetAddress> requirePinOn(Optional<ServiceVip> vip, int pid, String node) {
        Optional<InetAddress> pin;
        try {
            pin = SourceAddress.pinOfProcess(pid);
        } catch (VipException e) {
            throw new ControlRefusedException(e.getMessage());
        }
        if (pin.isPresent() && (vip.isEmpty() || !vip.get().address().equals(pin.get()))) {
            String at = pin.get().getHostAddress();
            throw new ControlRefusedException("process " + pid + "'s cgroup on " + node + " pins its outbound sockets to " + at
                + vip.map(v -> ", but the VIP moving with it is " + v.address().getHostAddress()).orElse(", and no VIP moves with it")
                + ": its new connections would leave from an address the destination does not have; move it with --vip " + at
                + ", or remove the pin (pmig vip source --remove --pid " + pid + ")");
        }
        return pin;
    }

    /** At the destination: the pin must be the VIP that moves (both ends check), and this node must have a cgroup v2 hierarchy for it. */
    static void requirePinnable(String pin, String vip, String node) {
        if (!pin.equals(vip)) {
            throw new ControlRefusedException("the process's sockets are pinned to " + pin + ", which is not the VIP moving with it ("
                + (vip == null ? "none" : vip) + ")");
        }
        if (SourceAddress.unifiedRoot().isEmpty()) {
            throw new ControlRefusedException(node + " has no cgroup v2 hierarchy (at /sys/fs/cgroup or /sys/fs/cgroup/unified) to"
                + " pin the process's sockets to " + pin + " in; mount cgroup2 there");
        }
    }

    /** "stream-server, uid 1000" from /proc/PID/status. */
    private static String describe(int pid) {
        try {
            List<String> status = Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status"));
            String name = status.stream().filter(l -> l.startsWith("Name:")).map(l -> l.substring(5).strip()).findFirst().orElse("?");
            String uid = status.stream().filter(l -> l.startsWith("Uid:")).map(l -> l.substring(4).strip().split("\\s+")[0])
                .findFirst().orElse("?");
            return name + ", uid " + uid;
        } catch (IOException gone) {
            return "ended meanwhile";
        }
    }

    /** What a configured host names, or nothing if it does not resolve now. */
    private static List<InetAddress> addresses(String host) {
        try {
            return List.of(InetAddress.getAllByName(host));
        } catch (UnknownHostException e) {
            return List.of();
        }
    }
}
