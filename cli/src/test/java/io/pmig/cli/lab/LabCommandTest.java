package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.LAB;
import static io.pmig.cli.lab.LabTestSupport.MAPPER;
import static io.pmig.cli.lab.LabTestSupport.down;
import static io.pmig.cli.lab.LabTestSupport.pmig;
import static io.pmig.cli.lab.LabTestSupport.pmigWithInput;
import static io.pmig.cli.lab.LabTestSupport.run;
import static io.pmig.cli.lab.LabTestSupport.sh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pmig lab end to end, as root: each test runs bin/pmig's main class in a JVM of its own (as a
 * user would: the node inits must outlive the `pmig lab up` that started them) on a lab named
 * pmig-labtest (PMIG_LAB_NAME), so a pmig-lab someone uses on this machine is never touched.
 * Every test removes its lab afterwards, also when it fails. Test runs on one machine take turns
 * through a file lock.
 */
class LabCommandTest {

    private static FileChannel lockFile;
    private static FileLock lock;

    @BeforeAll
    static void takeTheMachineAndClearLeftovers() throws IOException {
        assumeTrue(isRoot(), "pmig lab needs root");
        assumeTrue(LabShell.which("ip") != null && LabShell.which("nsenter") != null && LabShell.which("unshare") != null,
                "needs iproute2 and util-linux");
        lockFile = FileChannel.open(Path.of(System.getProperty("java.io.tmpdir"), LAB + ".lock"),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        lock = lockFile.lock();
        new Lab(new LabLayout(LAB), new LabShell()).down(); // after a test run that was killed
    }

    @AfterAll
    static void releaseTheMachine() throws IOException {
        if (lock != null) {
            lock.release();
            lockFile.close();
        }
    }

    @BeforeEach
    void noLabYet() {
        assertTrue(labNamespaces().isEmpty(), "namespaces left: " + labNamespaces());
    }

    @AfterEach
    void removeTheLab() {
        Run down = down();
        List<String> left = labNamespaces();
        if (down.exitCode() != ExitCodes.OK || !left.isEmpty()) {
            // Whatever broke pmig lab down (even a build running beside us), the next test gets a clean machine.
            new Lab(new LabLayout(LAB), new LabShell()).down();
        }
        assertEquals(ExitCodes.OK, down.exitCode(), down.toString());
        assertTrue(left.isEmpty(), "pmig lab down left namespaces: " + left);
        assertFalse(Files.exists(Path.of("/run", LAB)), "pmig lab down left /run/" + LAB);
    }

    @Test
    void upBuildsTwoNodesAndAClientOnABridgeInTheSwitchNamespace() throws IOException {
        Run up = pmig("lab", "up", "--json");

        assertEquals(ExitCodes.OK, up.exitCode(), up.toString());
        JsonNode json = up.json();
        assertTrue(json.get("created").booleanValue());
        assertTrue(json.get("healthy").booleanValue(), up.out());
        assertEquals("10.77.0.0/24", json.get("subnet").textValue());
        assertEquals(List.of("node-a", "node-b", "client"), texts(json.get("hosts"), "name"));
        assertEquals(List.of("10.77.0.11", "10.77.0.12", "10.77.0.100"), texts(json.get("hosts"), "address"));
        assertEquals(List.of(LAB + "-client", LAB + "-node-a", LAB + "-node-b", LAB + "-switch"), labNamespaces());

        // The bridge is in the switch namespace, with one port per host.
        JsonNode ports = MAPPER.readTree(sh("ip -n " + LAB + "-switch -j link show master br0"));
        assertEquals(List.of("veth-node-a", "veth-node-b", "veth-client"), texts(ports, "ifname"));
        String hostLinks = sh("ip -o link show");
        assertFalse(hostLinks.contains("veth-node-a") || hostLinks.contains("veth-client"),
                "nothing of the lab in the host namespace: " + hostLinks);

        Run addr = pmig("lab", "exec", "node-a", "--", "ip", "-4", "addr", "show", "eth0");
        assertEquals(0, addr.exitCode(), addr.toString());
        assertTrue(addr.out().contains("inet 10.77.0.11/24 "), addr.out());
        Run rpFilter = pmig("lab", "exec", "node-b", "--", "cat", "/proc/sys/net/ipv4/conf/all/rp_filter",
                "/proc/sys/net/ipv4/conf/eth0/rp_filter");
        assertEquals("0\n0\n", rpFilter.out(), rpFilter.toString());

        // exec passes stdin, stdout and stderr through and returns the command's exit code.
        Run cat = pmigWithInput("hello from the host\n", "lab", "exec", "node-a", "--", "sh", "-c", "cat; echo oops >&2; exit 7");
        assertEquals(7, cat.exitCode(), cat.toString());
        assertEquals("hello from the host\n", cat.out());
        assertEquals("oops\n", cat.err());
    }

    @Test
    void theClientReachesEveryNode() {
        assertEquals(ExitCodes.OK, pmig("lab", "up").exitCode());

        for (String node : List.of("node-a", "node-b")) {
            String address = node.equals("node-a") ? "10.77.0.11" : "10.77.0.12";
            Run reach = LabShell.which("ping") != null
                    ? pmig("lab", "exec", "client", "--", "ping", "-c1", "-W1", address)
                    // Without ping: a TCP connect to a closed port is answered with a RST, "Connection refused".
                    : pmig("lab", "exec", "client", "--", "bash", "-c",
                            "timeout 2 bash -c 'echo > /dev/tcp/" + address + "/9' 2>&1 | grep -q refused");
            assertEquals(0, reach.exitCode(), "client to " + node + ": " + reach);
            // Real ARP: the client learnt the node's MAC.
            String mac = pmig("lab", "exec", node, "--", "cat", "/sys/class/net/eth0/address").out().strip();
            String neighbour = pmig("lab", "exec", "client", "--", "ip", "neigh", "show", address).out();
            assertTrue(neighbour.contains("lladdr " + mac), node + " has MAC " + mac + ", the client's neighbours: " + neighbour);
        }
    }

    @Test
    void eachNodeHasItsOwnPidNamespaceWithTheInitAsPid1() throws IOException {
        JsonNode lab = pmig("lab", "up", "--json").json();
        long initA = lab.get("hosts").get(0).get("initPid").longValue();
        long initB = lab.get("hosts").get(1).get("initPid").longValue();

        for (String node : List.of("node-a", "node-b")) {
            assertEquals("pmig-lab-init\n", pmig("lab", "exec", node, "--", "cat", "/proc/1/comm").out());
        }
        // A sleep in each node: a small PID inside its node, another one in the host, parented by the init
        // once the shell that started it is gone.
        String start = "sleep 100 </dev/null >/dev/null 2>&1 & echo $!";
        int sleepA = Integer.parseInt(pmig("lab", "exec", "node-a", "--", "sh", "-c", start).out().strip());
        int sleepB = Integer.parseInt(pmig("lab", "exec", "node-b", "--", "sh", "-c", start).out().strip());
        assertTrue(sleepA > 1 && sleepA < 50 && sleepB > 1 && sleepB < 50, "small pids: " + sleepA + ", " + sleepB);
        long hostA = hostPid(initA, sleepA).orElseThrow(() -> new AssertionError("node-a's sleep is not in node-a"));
        long hostB = hostPid(initB, sleepB).orElseThrow(() -> new AssertionError("node-b's sleep is not in node-b"));
        assertNotEquals(hostA, hostB);
        assertNotEquals(pidNamespace(initA), pidNamespace(initB));
        assertNotEquals(pidNamespace(ProcessHandle.current().pid()), pidNamespace(initA));
        assertTrue(pmig("lab", "exec", "node-a", "--", "grep", "PPid", "/proc/" + sleepA + "/status").out()
                .matches("PPid:\\s+1\\n"), "the init adopted the orphaned sleep");

        // The node sees only its own processes.
        String pids = pmig("lab", "exec", "node-a", "--", "sh", "-c", "ls /proc | grep -E '^[0-9]+$'").out();
        assertTrue(pids.lines().count() < 10, "node-a sees: " + pids);
        assertFalse(pids.lines().toList().contains(Long.toString(hostB)), pids);

        // The init reaps: a killed orphan does not stay a zombie.
        Run reaped = pmig("lab", "exec", "node-a", "--", "sh", "-c", "kill " + sleepA
                + "; for i in $(seq 100); do [ -e /proc/" + sleepA + " ] || exit 0; sleep 0.02; done; exit 1");
        assertEquals(0, reaped.exitCode(), "pid " + sleepA + " was not reaped in node-a: " + reaped);

        // down ends everything in the nodes.
        assertEquals(ExitCodes.OK, down().exitCode());
        assertFalse(LabProcs.running(hostB), "node-b's sleep outlived pmig lab down");
        assertFalse(LabProcs.running(initA) || LabProcs.running(initB), "an init outlived pmig lab down");
    }

    @Test
    void threeNodesAndStatusInJson() throws IOException {
        assertEquals(ExitCodes.OK, pmig("lab", "up", "--nodes", "3").exitCode());
        assertEquals(0, pmig("lab", "exec", "node-b", "--", "ip", "addr", "add", "10.77.0.200/24", "dev", "eth0").exitCode());

        Run status = pmig("lab", "status", "--json");

        assertEquals(ExitCodes.OK, status.exitCode(), status.toString());
        JsonNode json = status.json();
        assertTrue(json.get("up").booleanValue());
        assertTrue(json.get("healthy").booleanValue(), status.out());
        assertEquals(LAB + "-switch", json.get("switch").get("netns").textValue());
        assertEquals(List.of("node-a", "node-b", "node-c", "client"), texts(json.get("hosts"), "name"));
        assertEquals(List.of("10.77.0.11", "10.77.0.12", "10.77.0.13", "10.77.0.100"), texts(json.get("hosts"), "address"));
        assertEquals(List.of(LAB + "-node-a", LAB + "-node-b", LAB + "-node-c", LAB + "-client"), texts(json.get("hosts"), "netns"));
        for (JsonNode host : json.get("hosts")) {
            assertTrue(host.get("alive").booleanValue(), host.toString());
            assertEquals(24, host.get("prefixLength").intValue());
            if (host.get("role").textValue().equals("node")) {
                long init = host.get("initPid").longValue();
                assertEquals("pmig-lab-init", Files.readString(Path.of("/proc/" + init + "/comm")).strip());
            } else {
                assertTrue(host.get("initPid").isNull());
            }
        }
        assertEquals(List.of(List.of(), List.of("10.77.0.200/24"), List.of(), List.of()),
                json.get("hosts").findValues("extraAddresses").stream().map(a -> texts(a, null)).toList());
        assertEquals(0, json.get("leftovers").size());

        Run text = pmig("lab", "status");
        assertTrue(text.out().contains("node-c  10.77.0.13/24"), text.out());
        assertTrue(text.out().contains("extra 10.77.0.200/24"), text.out());

        // A dead init shows, and a damaged lab is not taken for a lab that is up.
        long initC = json.get("hosts").get(2).get("initPid").longValue();
        ProcessHandle.of(initC).orElseThrow().destroy();
        assertTrue(LabProcs.awaitGone(List.of(initC), 3000).isEmpty());
        JsonNode damaged = pmig("lab", "status", "--json").json();
        assertFalse(damaged.get("healthy").booleanValue());
        assertFalse(damaged.get("hosts").get(2).get("alive").booleanValue());
        Run again = pmig("lab", "up", "--nodes", "3");
        assertEquals(ExitCodes.REFUSED, again.exitCode(), again.toString());
        assertTrue(again.err().contains("the init of node-c (pid " + initC + ") is not running"), again.err());
        assertEquals(ExitCodes.REFUSED, pmig("lab", "exec", "node-c", "--", "true").exitCode());
    }

    @Test
    void downRemovesEverythingAndIsSafeToRunTwice() {
        JsonNode lab = pmig("lab", "up", "--json").json();
        long initA = lab.get("hosts").get(0).get("initPid").longValue();
        assertEquals(0, pmig("lab", "exec", "client", "--", "sh", "-c", "sleep 100 </dev/null >/dev/null 2>&1 &").exitCode());

        Run down = pmig("lab", "down", "--json");

        assertEquals(ExitCodes.OK, down.exitCode(), down.toString());
        JsonNode json = down.json();
        assertFalse(json.get("removedNothing").booleanValue());
        assertEquals(initA, json.get("stoppedInits").get("node-a").longValue());
        assertTrue(json.get("stoppedInits").has("node-b"));
        assertEquals(1, json.get("killedProcesses").size(), "the client's sleep: " + down.out());
        assertEquals(List.of(LAB + "-client", LAB + "-node-a", LAB + "-node-b", LAB + "-switch"),
                texts(json.get("deletedNamespaces"), null));
        assertTrue(labNamespaces().isEmpty());
        assertFalse(Files.exists(Path.of("/run", LAB, "state.json")));
        assertFalse(LabProcs.running(initA));
        assertFalse(LabProcs.running(json.get("killedProcesses").get(0).longValue()));

        Run again = pmig("lab", "down", "--json");
        assertEquals(ExitCodes.OK, again.exitCode(), again.toString());
        assertTrue(again.json().get("removedNothing").booleanValue(), again.out());
        Run text = pmig("lab", "down");
        assertEquals("lab down: nothing to remove, no lab is up\n", text.out());
    }

    @Test
    void downCleansUpAfterACrashWithoutTheStateFile() throws IOException {
        JsonNode lab = pmig("lab", "up", "--json").json();
        long initB = lab.get("hosts").get(1).get("initPid").longValue();
        Files.delete(Path.of("/run", LAB, "state.json"));

        JsonNode status = pmig("lab", "status", "--json").json();
        assertFalse(status.get("up").booleanValue());
        assertTrue(texts(status.get("leftovers"), null).containsAll(List.of("netns " + LAB + "-node-a",
                "netns " + LAB + "-switch", "init pid " + initB + " of " + LAB + "-node-b")), status.toString());
        Run up = pmig("lab", "up");
        assertEquals(ExitCodes.REFUSED, up.exitCode(), up.toString());
        assertTrue(up.err().contains("leftovers of an earlier lab"), up.err());

        Run down = pmig("lab", "down", "--json");
        assertEquals(ExitCodes.OK, down.exitCode(), down.toString());
        assertEquals(initB, down.json().get("stoppedInits").get("node-b").longValue());
        assertEquals(4, down.json().get("deletedNamespaces").size());
        assertFalse(LabProcs.running(initB));
        assertEquals(0, pmig("lab", "status", "--json").json().get("leftovers").size());
    }

    @Test
    void upRefusesAnotherLabButLeavesTheSameOneAsItIs() {
        JsonNode first = pmig("lab", "up", "--json").json();

        Run same = pmig("lab", "up", "--json", "--nodes", "2", "--subnet", "10.77.0.0/24");
        assertEquals(ExitCodes.OK, same.exitCode(), same.toString());
        assertFalse(same.json().get("created").booleanValue());
        assertEquals(first.get("hosts").get(0).get("initPid"), same.json().get("hosts").get(0).get("initPid"));

        Run more = pmig("lab", "up", "--nodes", "3", "--json");
        assertEquals(ExitCodes.REFUSED, more.exitCode(), more.toString());
        assertEquals("a lab is already up with 2 nodes on 10.77.0.0/24 (/run/" + LAB + "/state.json), not 3 nodes on"
                + " 10.77.0.0/24: run pmig lab down first (nothing was changed)", more.json().get("error").textValue());
        Run elsewhere = pmig("lab", "up", "--subnet", "10.78.0.0/24");
        assertEquals(ExitCodes.REFUSED, elsewhere.exitCode(), elsewhere.toString());
        assertTrue(elsewhere.err().startsWith("pmig: a lab is already up with 2 nodes on 10.77.0.0/24"), elsewhere.err());
        assertFalse(Files.exists(LabLayout.netnsFile(LAB + "-node-c")));

        Run unknown = pmig("lab", "exec", "node-c", "--", "true");
        assertEquals(ExitCodes.USAGE, unknown.exitCode(), unknown.toString());
        assertTrue(unknown.err().contains("there is no host 'node-c' in the lab; it has node-a, node-b, client"), unknown.err());
    }

    @Test
    void twoUpsAtOnceTakeTurns() throws Exception {
        CompletableFuture<Run> first = CompletableFuture.supplyAsync(() -> pmig("lab", "up", "--json"));
        CompletableFuture<Run> second = CompletableFuture.supplyAsync(() -> pmig("lab", "up", "--json"));
        List<Run> runs = List.of(first.get(), second.get());

        for (Run run : runs) {
            assertEquals(ExitCodes.OK, run.exitCode(), run.toString());
        }
        assertEquals(List.of(false, true), runs.stream().map(r -> r.json().get("created").booleanValue()).sorted().toList());
        assertTrue(pmig("lab", "status", "--json").json().get("healthy").booleanValue());
    }

    @Test
    void aFailedUpRemovesWhatItHadBuilt(@TempDir Path bin) throws IOException {
        Path sysctl = bin.resolve("sysctl");
        Files.writeString(sysctl, "#!/bin/sh\necho 'sysctl: broken on purpose' >&2\nexit 1\n");
        Files.setPosixFilePermissions(sysctl, PosixFilePermissions.fromString("rwxr-xr-x"));

        Run up = run(Map.of("PATH", bin + ":" + System.getenv("PATH")), null, "lab", "up", "--json");

        assertEquals(ExitCodes.FAILED, up.exitCode(), up.toString());
        assertEquals("building the lab failed: `ip netns exec " + LAB + "-node-a sysctl -q -w net.ipv4.conf.all.rp_filter=0"
                + " net.ipv4.conf.default.rp_filter=0` failed (exit 1): sysctl: broken on purpose;"
                + " what it had created was removed again", up.json().get("error").textValue());
        assertTrue(labNamespaces().isEmpty(), "left: " + labNamespaces());
    }

    @Test
    void usageErrorsAndRefusalsWithoutALab() {
        Run exec = pmig("lab", "exec", "node-a", "--", "true");
        assertEquals(ExitCodes.REFUSED, exec.exitCode(), exec.toString());
        assertEquals("pmig: no lab is up (there is no /run/" + LAB + "/state.json): run pmig lab up first (nothing was changed)\n",
                exec.err());
        assertEquals(ExitCodes.USAGE, pmig("lab").exitCode());
        assertEquals(ExitCodes.USAGE, pmig("lab", "exec", "node-a").exitCode());
        Run nodes = pmig("lab", "up", "--nodes", "27");
        assertEquals(ExitCodes.USAGE, nodes.exitCode(), nodes.toString());
        assertTrue(nodes.err().startsWith("pmig: --nodes must be from 1 to 26, not 27\n"), nodes.err());
        Run subnet = pmig("lab", "up", "--subnet", "10.77.0.1/24");
        assertEquals(ExitCodes.USAGE, subnet.exitCode(), subnet.toString());
        assertTrue(subnet.err().contains("did you mean 10.77.0.0/24?"), subnet.err());
        JsonNode status = pmig("lab", "status", "--json").json();
        assertFalse(status.get("up").booleanValue());
        assertEquals("no lab is up (no /run/" + LAB + "/state.json)\n", pmig("lab", "status").out());
        assertTrue(labNamespaces().isEmpty());
    }

    // ---- helpers ----

    private static List<String> texts(JsonNode array, String field) {
        List<String> texts = new ArrayList<>();
        array.forEach(node -> texts.add(field == null ? node.asText() : node.get(field).asText()));
        return texts;
    }

    /** The network namespaces of the test lab, sorted. */
    private static List<String> labNamespaces() {
        List<String> names = new ArrayList<>();
        if (Files.isDirectory(LabLayout.NETNS_DIRECTORY)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(LabLayout.NETNS_DIRECTORY, LAB + "-*")) {
                entries.forEach(e -> names.add(e.getFileName().toString()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        names.sort(null);
        return names;
    }

    private static String pidNamespace(long pid) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/pid")).toString();
    }

    /** The host PID of the process that has PID {@code inner} in the PID namespace of {@code init}. */
    private static Optional<Long> hostPid(long init, int inner) throws IOException {
        String namespace = pidNamespace(init);
        Pattern nspid = Pattern.compile("(?m)^NSpid:\\s+(\\d+)\\s+(\\d+)$");
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path entry : entries) {
                try {
                    Matcher m = nspid.matcher(Files.readString(entry.resolve("status")));
                    if (m.find() && Integer.parseInt(m.group(2)) == inner
                            && Files.readSymbolicLink(entry.resolve("ns/pid")).toString().equals(namespace)) {
                        return Optional.of(Long.parseLong(m.group(1)));
                    }
                } catch (IOException gone) {
                    // exited while we looked
                }
            }
        }
        return Optional.empty();
    }

    static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[2].equals("0");
                }
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }
}
