package io.pmig.cli.demo;

import io.pmig.checkpoint.FailedException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Which processes of a given name run in a lab host, seen from this machine's /proc: a process is
 * in host H when its network namespace is H's ({@code /run/netns/LAB-H}, named as the lab names
 * them); its PID inside the node is the second of its NSpid line (the first is this machine's), and
 * the last is the one it has for itself (another one when it runs in a PID namespace of its own).
 */
final class NodeProcesses {
    private static final Path PROC = Path.of("/proc");
    private static final Path NETNS = Path.of("/run/netns");

    private NodeProcesses() {
    }

    /** A process as its node numbers it, and as it numbers itself. */
    record NodePid(int inNode, int own) {
    }

    /** The processes called {@code comm} in host {@code host} of lab {@code lab}. */
    static List<NodePid> find(String lab, String host, String comm) {
        Path netns = NETNS.resolve(lab + "-" + host);
        String link;
        try {
            link = "net:[" + Files.getAttribute(netns, "unix:ino") + "]";
        } catch (IOException e) {
            throw new FailedException("cannot read the network namespace " + netns + " of " + host + ": " + e, e);
        }
        List<NodePid> pids = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(PROC, "[0-9]*")) {
            for (Path process : entries) {
                try {
                    if (Files.readSymbolicLink(process.resolve("ns/net")).toString().equals(link)
                            && Files.readString(process.resolve("comm")).strip().equals(comm)) {
                        pids.add(pidInNode(Files.readAllLines(process.resolve("status"))));
                    }
                } catch (IOException gone) {
                    // it exited while we looked
                }
            }
        } catch (IOException e) {
            throw new FailedException("cannot list " + PROC + ": " + e, e);
        }
        return pids;
    }

    private static NodePid pidInNode(List<String> status) {
        for (String line : status) {
            if (line.startsWith("NSpid:")) {
                String[] pids = line.substring("NSpid:".length()).trim().split("\\s+");
                return new NodePid(Integer.parseInt(pids[Math.min(1, pids.length - 1)]), Integer.parseInt(pids[pids.length - 1]));
            }
        }
        throw new FailedException("/proc/PID/status has no NSpid line (kernel older than 4.1?)");
    }
}
