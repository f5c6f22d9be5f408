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
 * them); its PID inside the node is the last one of its NSpid line.
 */
final class NodeProcesses {
    private static final Path PROC = Path.of("/proc");
    private static final Path NETNS = Path.of("/run/netns");

    private NodeProcesses() {
    }

    /** The PIDs, as host {@code host} of lab {@code lab} sees them, of the processes called {@code comm} in it. */
    static List<Integer> find(String lab, String host, String comm) {
        Path netns = NETNS.resolve(lab + "-" + host);
        String link;
        try {
            link = "net:[" + Files.getAttribute(netns, "unix:ino") + "]";
        } catch (IOException e) {
            throw new FailedException("cannot read the network namespace " + netns + " of " + host + ": " + e, e);
        }
        List<Integer> pids = new ArrayList<>();
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

    private static int pidInNode(List<String> status) {
        for (String line : status) {
            if (line.startsWith("NSpid:")) {
                String[] pids = line.substring("NSpid:".length()).trim().split("\\s+");
                return Integer.parseInt(pids[pids.length - 1]);
            }
        }
        throw new FailedException("/proc/PID/status has no NSpid line (kernel older than 4.1?)");
    }
}
