package io.pmig.daemon.migration;

import io.pmig.daemon.control.ControlRefusedException;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The TCP and UDP sockets of a network namespace as /proc/PID/net/{tcp,tcp6,udp,udp6} list them
 * (local address and inode), and which processes hold them (the socket:[INODE] links under
 * /proc/PID/fd). Sockets no process holds (TIME_WAIT, not yet accepted) have inode 0.
 */
final class NetSockets {
    private static final Path PROC = Path.of("/proc");

    /** One socket: its local address and its inode (0: held by no process). */
    record Socket(InetAddress local, long inode) {
    }

    private NetSockets() {
    }

    /** The sockets of the network namespace process {@code pid} is in. */
    static List<Socket> ofNamespaceOf(int pid) {
        List<Socket> out = new ArrayList<>();
        for (String table : List.of("tcp", "tcp6", "udp", "udp6")) {
            try {
                for (String line : Files.readAllLines(PROC.resolve(Integer.toString(pid)).resolve("net").resolve(table))) {
                    String[] f = line.trim().split("\\s+");
                    if (f.length > 9 && f[1].indexOf(':') > 0 && !f[0].equals("sl")) {
                        out.add(new Socket(address(f[1].substring(0, f[1].indexOf(':'))), Long.parseLong(f[9])));
                    }
                }
            } catch (IOException e) {
                // a table missing (no IPv6) has no sockets
            }
        }
        return out;
    }

    /** The inodes of the sockets among process {@code pid}'s descriptors. */
    static Set<Long> inodesOf(int pid) {
        Set<Long> inodes = new HashSet<>();
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(PROC.resolve(Integer.toString(pid)).resolve("fd"))) {
            for (Path fd : fds) {
                socketInode(fd).ifPresent(inodes::add);
            }
        } catch (IOException e) {
            throw new ControlRefusedException("cannot read the descriptors of process " + pid + ": " + e.getMessage());
        }
        return inodes;
    }

    /** Which process holds each of {@code inodes} (one of them, if several share it); inodes no process holds are left out. */
    static Map<Long, Integer> holders(Set<Long> inodes) {
        Map<Long, Integer> out = new HashMap<>();
        if (inodes.isEmpty()) {
            return out;
        }
        try (DirectoryStream<Path> processes = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path process : processes) {
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(process.resolve("fd"))) {
                    for (Path fd : fds) {
                        socketInode(fd).filter(inodes::contains)
                            .ifPresent(inode -> out.putIfAbsent(inode, Integer.parseInt(process.getFileName().toString())));
                    }
                } catch (IOException goneOrKernelThread) {
                    // a process that ended meanwhile holds nothing
                }
                if (out.size() == inodes.size()) {
                    break;
                }
            }
        } catch (IOException e) {
            throw new ControlRefusedException("cannot list the processes in " + PROC + ": " + e.getMessage());
        }
        return out;
    }

    private static Optional<Long> socketInode(Path fd) {
        try {
            String target = Files.readSymbolicLink(fd).toString();
            return target.startsWith("socket:[") ? Optional.of(Long.parseLong(target.substring(8, target.length() - 1)))
                : Optional.empty();
        } catch (IOException closedMeanwhile) {
            return Optional.empty();
        }
    }

    /**
     * A /proc/net address: hex of the bytes as 32-bit words in host (little-endian) order. An
     * IPv4-mapped IPv6 address comes back as the IPv4 address (InetAddress does that).
     */
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
