package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The VIP as source address (issue 15): a stream-client on node-a, in a cgroup pinned to the VIP, streams both ways
 * with a stream-server in the client host and checks every byte. The server sees the connection come from the VIP; the
 * client moves to node-b with the connection open and passes; a new connection from its cgroup there comes from the VIP
 * too. A pin to an address that is not the moving VIP is refused first, touching nothing.
 */
class SourceAddressMoveTest {
    private static final String VIP = StreamService.VIP;
    private static final String OTHER = "10.77.0.51";
    private static final String PORT = "7300";
    private final LabNodes nodes = new LabNodes();
    private String cgroup;

    @TempDir
    Path tmp;

    @BeforeEach
    void lab() {
        LabTestSupport.freshLab();
    }

    @AfterEach
    void removeLab() {
        LabTestSupport.removeLab();
        if (cgroup != null) {
            LabTestSupport.sh("rmdir " + cgroup + " || true");
        }
    }

    @Test
    @Timeout(240)
    void anOutboundConnectionMovesWithItsVip() throws Exception {
        String server = nodes.host("client").address();
        exec("client", "sh", "-c", "setsid " + StreamService.program("stream-server") + " " + server + " " + PORT
            + " 512 </dev/null >/dev/null 2>&1 &");
        awaitEstablishedFromVip(0);
        exec("node-a", "ip", "addr", "add", VIP + "/24", "dev", "eth0");
        cgroup = exec("node-a", "sh", "-c", "r=/sys/fs/cgroup; [ -f $r/cgroup.controllers ] || r=$r/unified;"
            + " mkdir -p $r/pmig-srcaddr-test && echo $r/pmig-srcaddr-test").strip();
        Run pinned = pmigIn("node-a", "vip", "source", "--cgroup", cgroup, OTHER, "--json");
        assertEquals(ExitCodes.OK, pinned.exitCode(), pinned.toString());

        String client = clientOnNodeA(server, Path.of("/dev/null"), 20000);
        awaitEstablishedFrom(nodes.host("node-a").address(), 1);     // 10.77.0.51 is not on node-a: bpf_bind fails, as unpinned

        // pinned to an address that does not move with it: refused, the process runs on, untouched
        Run refused = pmigIn("node-a", "migrate", client, "--to", "node-b", "--vip", VIP, "--json");
        assertEquals(ExitCodes.REFUSED, refused.exitCode(), refused.toString());
        assertTrue(refused.err().contains("pins its outbound sockets to " + OTHER), refused.err());
        assertEquals("stream-client", exec("node-a", "cat", "/proc/" + client + "/comm").strip());
        exec("node-a", "kill", client);

        Run repinned = pmigIn("node-a", "vip", "source", "--cgroup", cgroup, VIP, "--json");
        assertEquals(VIP, repinned.json().get("vip").textValue(), repinned.toString());
        Path verdict = tmp.resolve("verdict");
        client = clientOnNodeA(server, verdict, 20100);
        awaitEstablishedFromVip(1);

        Run moved = pmigIn("node-a", "migrate", client, "--to", "node-b", "--json");
        assertEquals(ExitCodes.OK, moved.exitCode(), moved.toString());
        assertEquals(VIP, moved.json().get("vip").textValue(), "the VIP was found from the client's socket: " + moved);
        String restored = moved.json().get("restoredPid").asText();
        Run pinThere = pmigIn("node-b", "vip", "source", "--pid", restored, "--json");
        assertEquals(VIP, pinThere.json().get("vip").textValue(), "the copy's cgroup is pinned: " + pinThere);

        // a new connection from the copy's cgroup on node-b leaves from the VIP as well
        String cgroupThere = pinThere.json().get("cgroup").textValue();
        String second = exec("node-b", "sh", "-c", "setsid sh -c 'echo $$ > " + cgroupThere + "/cgroup.procs && exec "
            + StreamService.program("stream-client") + " " + server + " " + PORT + " 60' </dev/null >/dev/null 2>&1 & echo $!").strip();
        awaitEstablishedFromVip(2);
        exec("node-b", "kill", second);

        String result = awaitVerdict(verdict);
        assertTrue(result.startsWith("PASS"), "the moved client, streaming both ways: " + result);
    }

    /** A stream-client for 16 s in the test's cgroup on node-a, its verdict to {@code verdict}, under a pid above {@code lastPid}. */
    private String clientOnNodeA(String server, Path verdict, int lastPid) {
        return exec("node-a", "sh", "-c", "echo " + lastPid + " > /proc/sys/kernel/ns_last_pid; setsid sh -c 'echo $$ > "
            + cgroup + "/cgroup.procs && exec " + StreamService.program("stream-client") + " " + server + " " + PORT
            + " 16' </dev/null >" + verdict + " 2>&1 & echo $!").strip();
    }

    private void awaitEstablishedFromVip(int connections) throws InterruptedException {
        awaitEstablishedFrom(VIP, connections);
    }

    /** Waits until the server in the client host has exactly {@code connections} established from {@code address}. */
    private void awaitEstablishedFrom(String address, int connections) throws InterruptedException {
        String seen = "";
        for (int i = 0; i < 600; i++) {
            seen = exec("client", "ss", "-Htn", "state", "established", "sport", "=", ":" + PORT);
            long from = seen.lines().filter(l -> l.contains(" " + address + ":")).count();
            if (from == connections) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the server never had " + connections + " connection(s) from " + address + ": " + seen);
    }

    private static String awaitVerdict(Path verdict) throws Exception {
        for (int i = 0; i < 1200; i++) {
            String text = Files.exists(verdict) ? Files.readString(verdict, StandardCharsets.UTF_8).strip() : "";
            if (text.startsWith("PASS") || text.startsWith("FAIL")) {
                return text;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the moved client gave no verdict in " + verdict);
    }
}
