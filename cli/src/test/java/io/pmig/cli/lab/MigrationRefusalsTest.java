package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import io.pmig.daemon.certs.ClusterCertificates;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Migrations a node cannot take part in, refused in pre-flight: pmig migrate exits 3 with a message
 * that names the resource and the remedy, and nothing changed. The service runs on node-a, not
 * frozen, with its VIP (only node-a answers ARP for it) and its client's stream; neither node keeps
 * a copy, a journal entry, a hold or the VIP. The service holds 300 MB, more than node-b's memory
 * cgroup lets it take. One lab for every case, so each also shows the next one finds it untouched.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MigrationRefusalsTest {
    private static final String VIP = StreamService.VIP;
    /** The daemons' journal and control socket directory, a 4 MB tmpfs of each node's own. */
    private static final Path RUN = LabDaemons.SOCKET.getParent();
    private static final Path MEMORY_CGROUPS = Path.of("/sys/fs/cgroup/memory");
    private final LabDaemons daemons = new LabDaemons(new LabLayout(LabTestSupport.LAB), new LabShell());
    private final LabNodes nodes = new LabNodes();
    private String server;

    @BeforeAll
    void labWithABigServer() throws Exception {
        LabTestSupport.freshLab();
        server = StreamService.startOnNodeA("256", "300");
    }

    @AfterAll
    void removeLab() {
        LabTestSupport.removeLab();
    }

    /**
     * node-b's daemon, and so the restorer it would fork, in a memory cgroup of 320 MB: too small for
     * 300 MB and the reserve. (Without the check the restore ran into the limit and the OOM killer
     * took the daemon.) A lab node's /sys is the sysfs of its network namespace, without the cgroup
     * mounts a real node has: node-b gets cgroup v1's memory hierarchy for the test. The daemon's
     * memory charged so far stays where it was (v1 moves no charges with a process), so the limit
     * bounds what it allocates from now on.
     */
    @Test
    @Timeout(120)
    void aDestinationMemoryCgroupTooSmallForTheService() throws Exception {
        assumeTrue(Files.isDirectory(MEMORY_CGROUPS), "cgroup v1's memory controller is at " + MEMORY_CGROUPS);
        long daemon = nodes.daemonPid("node-b");
        String daemonCgroup = memoryCgroup(daemon);
        Path parent = MEMORY_CGROUPS.resolve(daemonCgroup.substring(1));
        Path small = parent.resolve(LabTestSupport.LAB + "-memory");
        nodes.inNode("node-b", "sh", "-c", "mount -t tmpfs -o mode=0755 cgroups /sys/fs/cgroup && mkdir " + MEMORY_CGROUPS
            + " && mount -t cgroup -o memory cgroup " + MEMORY_CGROUPS);
        Files.createDirectory(small);
        try {
            Files.writeString(small.resolve("memory.limit_in_bytes"), Long.toString(320L << 20));
            Files.writeString(small.resolve("cgroup.procs"), Long.toString(daemon));
            String refusal = refusedMigration();
            String cgroup = Path.of(daemonCgroup).resolve(small.getFileName()).toString();
            assertTrue(refusal.contains("node-b can give ") && refusal.contains("(memory cgroup " + cgroup + ": limit 320 MB, ")
                && refusal.contains("process " + server + " needs 30") && refusal.contains("raise that limit"), refusal);
        } finally {
            boolean alive = ProcessHandle.of(daemon).isPresent();
            // the daemon, and what it started meanwhile (its restorer server), go back
            for (String pid : Files.readString(small.resolve("cgroup.procs")).split("\\s+")) {
                try {
                    if (!pid.isEmpty()) {
                        Files.writeString(parent.resolve("cgroup.procs"), pid);
                    }
                } catch (java.io.IOException ended) {
                    // it ended since the list was read: nothing of it is left in the cgroup
                }
            }
            Files.delete(small);
            nodes.inNode("node-b", "umount", "--recursive", "/sys/fs/cgroup");
            if (!alive) {
                daemons.restart(nodes.host("node-b"));    // the OOM killer took it: the other cases need it
            }
        }
    }

    @Test
    @Timeout(120)
    void aDestinationWhoseJournalCannotBeWritten() throws Exception {
        fillRun("node-b");
        try {
            String refusal = refusedMigration();
            assertTrue(refusal.contains("node-b refused") && refusal.contains("cannot write the migration journal in "
                + RUN.resolve("migrations")) && refusal.contains("No space left on device") && refusal.contains("make room"), refusal);
        } finally {
            emptyRun("node-b");
        }
    }

    @Test
    @Timeout(120)
    void aSourceWhoseJournalCannotBeWritten() throws Exception {
        fillRun("node-a");
        try {
            String refusal = refusedMigration();
            assertTrue(refusal.contains("cannot write the migration journal in " + RUN.resolve("migrations"))
                && refusal.contains("No space left on device") && refusal.contains("make room"), refusal);
        } finally {
            emptyRun("node-a");
        }
    }

    @Test
    @Timeout(180)
    void aDestinationWithACertificateOfAnotherCa(@TempDir Path otherCluster) throws Exception {
        new ClusterCertificates(otherCluster).init(List.of("node-b"), ClusterCertificates.DEFAULT_VALIDITY);
        String refusal = refusedWithNodeBConfigured(config -> config.replace(daemons.certificates().toString(), otherCluster.toString()));
        assertTrue(refusal.contains("cannot reach node-b") && refusal.contains("is not signed by this cluster's CA"), refusal);
    }

    /** node-b's address answered by a node of the cluster that is not node-b (node-c): its certificate names it. */
    @Test
    @Timeout(180)
    void aDestinationWithTheCertificateOfAnotherNode() throws Exception {
        new ClusterCertificates(daemons.certificates()).init(List.of("node-c"), ClusterCertificates.DEFAULT_VALIDITY);
        String refusal = refusedWithNodeBConfigured(config -> config.replace("node.name = node-b", "node.name = node-c")
            .replace(ClusterCertificates.certificate(daemons.certificates(), "node-b").toString(),
                ClusterCertificates.certificate(daemons.certificates(), "node-c").toString())
            .replace(ClusterCertificates.key(daemons.certificates(), "node-b").toString(),
                ClusterCertificates.key(daemons.certificates(), "node-c").toString()));
        assertTrue(refusal.contains("cannot reach node-b") && refusal.contains("presented the certificate of 'node-c', not of node-b"),
            refusal);
    }

    /** The bug: node-b took node-a's own address, and node-to-node traffic was lost for half a minute. */
    @Test
    @Timeout(120)
    void theSourceNodesOwnAddressAsTheVip() throws Exception {
        String own = nodes.host("node-a").address();
        String refusal = refusedMigration("--vip", own);
        assertTrue(refusal.contains(own + " is node-a's own address on eth0, not a VIP"), refusal);
    }

    /** Another user's server on the VIP (port 7001, uid 1000): moved along, it would lose its address. */
    @Test
    @Timeout(120)
    void aVipAnotherProcessUsesToo() throws Exception {
        String other = LabTestSupport.exec("node-a", "sh", "-c", "setsid setpriv --reuid=1000 --regid=1000 --clear-groups "
            + StreamService.program("stream-server") + " " + VIP + " 7001 256 </dev/null >/dev/null 2>&1 & echo $!").strip();
        try {
            for (int i = 0; i < 200 && !nodes.inNode("node-a", "ss", "-Htln", "sport = :7001").contains("7001"); i++) {
                Thread.sleep(20);
            }
            String refusal = refusedMigration();
            assertTrue(refusal.contains(VIP + " is also used on node-a by process " + other + " (stream-server, uid 1000)"), refusal);
            assertTrue(nodes.exists("node-a", other), "the other server runs on");
        } finally {
            nodes.inNodeAttempt("node-a", "kill", other);
        }
    }

    /** Restarts node-b's daemon with its configuration edited, tries the migration, and puts the daemon back as it was. */
    private String refusedWithNodeBConfigured(UnaryOperator<String> edit) throws Exception {
        Path config = daemons.configFile("node-b");
        String original = Files.readString(config);
        try {
            restartNodeB(edit.apply(original), config);
            return refusedMigration();
        } finally {
            restartNodeB(original, config);
        }
    }

    private void restartNodeB(String configuration, Path file) throws Exception {
        nodes.stopDaemon("node-b", ProcessHandle::destroy);
        Files.writeString(file, configuration);
        daemons.restart(nodes.host("node-b"));
    }

    /**
     * With a client streaming from the server, tries to move the server to node-b: refused (exit 3),
     * and everything as it was. Returns the refusal.
     */
    private String refusedMigration(String... options) throws Exception {
        Map<String, String> addresses = Map.of("node-a", nodes.addresses("node-a"), "node-b", nodes.addresses("node-b"));
        StreamClient client = StreamService.client();
        List<String> args = new ArrayList<>(List.of("migrate", server, "--to", "node-b", "--json"));
        args.addAll(List.of(options));
        Run run = pmigIn("node-a", args.toArray(String[]::new));
        assertEquals(ExitCodes.REFUSED, run.exitCode(), run.toString());
        String verdict = client.verdict();
        assertTrue(verdict.startsWith("PASS"), "the client's stream went on: " + verdict);
        assertServiceUntouchedOnNodeA();
        addresses.forEach((node, before) -> assertEquals(before, nodes.addresses(node), "the addresses of " + node + " are unchanged"));
        return run.json().get("error").textValue();
    }

    private void assertServiceUntouchedOnNodeA() {
        nodes.assertServiceOn("node-a", server, VIP);
        for (String node : List.of("node-a", "node-b")) {
            assertEquals(List.of(), journal(node), "no journal entry, whole or partial, on " + node);
            assertFalse(nodes.inNode(node, "nft", "list", "ruleset").contains(VIP), "no hold or ARP silence for the VIP on " + node);
        }
    }

    /** Fills the node's /run/pmig (a 4 MB tmpfs) to the last byte. */
    private void fillRun(String node) {
        LabShell.Result dd = nodes.inNodeAttempt(node, "dd", "if=/dev/zero", "of=" + RUN.resolve("filler"), "bs=64k");
        assertTrue(dd.err().contains("No space left on device"), "dd filled " + RUN + " on " + node + ": " + dd.failure());
    }

    private void emptyRun(String node) {
        nodes.inNode(node, "rm", "-f", RUN.resolve("filler").toString());
    }

    /** The files in the node's journal directory, seen through its init's root. */
    private List<String> journal(String node) {
        Path dir = Path.of("/proc", nodes.host(node).initPid().toString(), "root").resolve(RUN.resolve("migrations").toString().substring(1));
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The memory cgroup process {@code pid} is in, as /proc/PID/cgroup names it ("/..."). */
    private static String memoryCgroup(long pid) throws Exception {
        return Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup")).stream()
            .map(line -> line.split(":", 3)).filter(f -> List.of(f[1].split(",")).contains("memory")).map(f -> f[2])
            .findFirst().orElseThrow(() -> new AssertionError("process " + pid + " is in no memory cgroup"));
    }
}
