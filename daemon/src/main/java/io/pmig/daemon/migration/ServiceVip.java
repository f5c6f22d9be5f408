package io.pmig.daemon.migration;

import io.pmig.vip.VipManager;
import io.pmig.vip.netlink.InterfaceAddress;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The VIP a process serves on: the one VIP of this node's interface that its sockets are bound to
 * (found by matching the inodes of its socket descriptors against /proc/PID/net/{tcp,tcp6,udp,udp6}).
 */
record ServiceVip(InetAddress address, int prefix) {
    /** The VIP named by the operator, which must be on this node's interface. */
    static ServiceVip named(VipManager vips, InetAddress address) {
        return vips.interfaceAddresses().stream().filter(a -> a.address().equals(address)).findFirst()
            .map(a -> new ServiceVip(a.address(), a.prefix()))
            .orElseThrow(() -> new io.pmig.daemon.control.ControlRefusedException(address.getHostAddress() + " is not on "
                + vips.iface() + " of this node; give the VIP the service uses (pmig vip list shows this node's)"));
    }

    /** The VIP process {@code pid} is bound to, if any; refused when it uses several. */
    static Optional<ServiceVip> of(int pid, List<InterfaceAddress> interfaceAddresses) {
        Set<InetAddress> bound = boundAddresses(pid);
        List<InterfaceAddress> vips = interfaceAddresses.stream().filter(InterfaceAddress::isVip).filter(a -> bound.contains(a.address())).toList();
        if (vips.size() > 1) {
            throw new io.pmig.daemon.control.ControlRefusedException("process " + pid + " uses several VIPs ("
                + vips.stream().map(a -> a.address().getHostAddress()).collect(Collectors.joining(", ")) + "); name one with --vip");
        }
        return vips.stream().findFirst().map(a -> new ServiceVip(a.address(), a.prefix()));
    }

    private static Set<InetAddress> boundAddresses(int pid) {
        Set<String> inodes = new HashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Integer.toString(pid), "fd"))) {
            for (Path fd : fds) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("socket:[")) {
                        inodes.add(target.substring(8, target.length() - 1));
                    }
                } catch (IOException closedMeanwhile) {
                    // a descriptor that went away is not a socket the service keeps
                }
            }
        } catch (IOException e) {
            throw new io.pmig.daemon.control.ControlRefusedException("cannot read the descriptors of process " + pid + ": "
                + e.getMessage());
        }
        Set<InetAddress> out = new LinkedHashSet<>();
        for (String table : List.of("tcp", "tcp6", "udp", "udp6")) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "net", table))) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 9 && inodes.contains(f[9])) {
                        out.add(address(f[1].substring(0, f[1].indexOf(':'))));
                    }
                }
            } catch (IOException e) {
                // a table missing (no IPv6) has no socket of the process
            }
        }
        return out;
    }

    /** A /proc/net address: hex of the bytes as 32-bit words in host (little-endian) order. */
    private static InetAddress address(String hex) throws UnknownHostException {
        byte[] b = new byte[hex.length() / 2];
        for (int word = 0; word < b.length / 4; word++) {
            for (int i = 0; i < 4; i++) {
                b[word * 4 + i] = (byte) Integer.parseInt(hex.substring(word * 8 + (3 - i) * 2, word * 8 + (3 - i) * 2 + 2), 16);
            }
        }
        return InetAddress.getByAddress(b);
    }
}
