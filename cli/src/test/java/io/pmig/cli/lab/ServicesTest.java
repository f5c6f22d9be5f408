package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Timeout;

/**
 * Services by name through the lab's daemons: the registry entry lives on the node that runs the
 * service, moves with it, and survives a restart of pmigd; pmig drain empties a node but for what
 * cannot move; pmig run starts a service that moves.
 */
@ExtendWith(FreshLab.class)
class ServicesTest {
    private final LabNodes nodes = new LabNodes();

    @Test
    @Timeout(240)
    void aServiceMovesByNameWithItsEntryAndSurvivesARestart() throws Exception {
        String server = StreamService.startOnNodeA("64");
        Run unpublished = pmigIn("node-a", "service", "add", "web", "--pid", server, "--vip", StreamService.VIP + "/24", "--dns",
            "web.pmig.test", "--json");
        assertEquals(ExitCodes.REFUSED, unpublished.exitCode(), "a DNS name with no DNS server to publish it: " + unpublished);
        assertTrue(unpublished.out().contains("has no DNS server to publish it in: set dns.server"), unpublished.out());
        Run add = pmigIn("node-a", "service", "add", "web", "--pid", server, "--vip", StreamService.VIP + "/24", "--json");
        assertEquals(ExitCodes.OK, add.exitCode(), "nothing of the refused one was kept: " + add);
        assertEquals("-rw-------", nodes.inNode("node-a", "stat", "-c", "%A", "/run/pmig/services/web.json").strip(),
            "the entry is on node-a, for its owner alone");
        JsonNode before = only(pmigIn("node-a", "service", "list", "--json"), "web");
        assertEquals("node-a", before.path("node").asText());
        assertEquals(server, before.path("pid").asText());

        Run taken = pmigIn("node-a", "service", "add", "web", "--pid", server, "--json");
        assertEquals(ExitCodes.REFUSED, taken.exitCode(), "a name is one service: " + taken);

        Run moved = pmigIn("node-a", "migrate", "web", "--to", "node-b", "--json");
        assertEquals(ExitCodes.OK, moved.exitCode(), moved.toString());
        String restored = moved.json().path("restoredPid").asText();
        assertEquals(StreamService.VIP, moved.json().path("vip").asText(), "the service's VIP moved with it");
        assertEquals("stream-server", nodes.inNode("node-b", "cat", "/proc/" + restored + "/comm").strip());
        assertFalse(nodes.exists("node-a", server), "the original is gone");
        assertTrue(nodes.inNodeAttempt("node-b", "test", "-f", "/run/pmig/services/web.json").ok(), "the entry is on node-b");
        assertFalse(nodes.inNodeAttempt("node-a", "test", "-e", "/run/pmig/services/web.json").ok(), "and gone from node-a");
        JsonNode after = only(pmigIn("node-a", "service", "list", "--json"), "web");
        assertEquals("node-b", after.path("node").asText(), "node-a lists it on node-b: " + after);
        assertEquals(restored, after.path("pid").asText());

        nodes.killDaemon("node-b");
        nodes.restartDaemon("node-b");
        JsonNode restarted = only(pmigIn("node-b", "service", "list", "--json"), "web");
        assertEquals("node-b", restarted.path("node").asText(), "the entry survived the restart: " + restarted);
        assertEquals(restored, restarted.path("pid").asText());

        Run back = pmigIn("node-b", "migrate", "web", "--to", "node-a", "--json");
        assertEquals(ExitCodes.OK, back.exitCode(), "the restarted daemon moves it by name: " + back);
        assertEquals("node-a", only(pmigIn("node-b", "service", "list", "--json"), "web").path("node").asText());
    }

    @Test
    @Timeout(300)
    void aDrainMovesWhatCanMoveAndNamesWhatCannot() {
        exec("node-a", "sh", "-c", "echo 20000 > /proc/sys/kernel/ns_last_pid");
        List<String> pids = new ArrayList<>();
        for (String name : List.of("one", "two")) {
            String pid = exec("node-a", "sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!").strip();
            assertEquals(ExitCodes.OK, pmigIn("node-a", "service", "add", name, "--pid", pid).exitCode());
            pids.add(pid);
        }
        String tree = exec("node-a", "sh", "-c", "setsid sh -c 'sleep 600; true' </dev/null >/dev/null 2>&1 & echo $!").strip();
        for (int i = 0; i < 200 && nodes.inNode("node-a", "cat", "/proc/" + tree + "/task/" + tree + "/children").isBlank(); i++) {
            LabProcs.sleep(20);
        }
        assertEquals(ExitCodes.OK, pmigIn("node-a", "service", "add", "tree", "--pid", tree).exitCode());
        // one end of a pipeline: its pipe's other end is a process outside what would move
        String piped = exec("node-a", "sh", "-c", "setsid sh -c 'sleep 611 | sleep 612' </dev/null >/dev/null 2>&1 &"
            + " for i in $(seq 200); do p=$(pgrep -fx 'sleep 611') && [ -n \"$(pgrep -fx 'sleep 612')\" ] && break; sleep 0.02; done;"
            + " echo $p").strip();
        assertEquals(ExitCodes.OK, pmigIn("node-a", "service", "add", "piped", "--pid", piped).exitCode());

        Run plan = pmigIn("node-a", "drain", "node-a", "--dry-run", "--json");
        assertEquals(ExitCodes.OK, plan.exitCode(), "every service has a place: " + plan);
        assertEquals(4, plan.json().path("plan").size(), plan.toString());
        plan.json().path("plan").forEach(p -> assertEquals("node-b", p.path("to").asText(), plan.toString()));
        assertEquals(4, names(pmigIn("node-a", "service", "list", "--json"), "node-a").size(), "a dry run moves nothing");
        pids.forEach(pid -> assertTrue(nodes.exists("node-a", pid)));

        Run drain = pmigIn("node-a", "drain", "node-a", "--parallel", "2");
        assertEquals(ExitCodes.NOT_EMPTY, drain.exitCode(), drain.toString());
        assertTrue(drain.out().contains("one: moved to node-b") && drain.out().contains("two: moved to node-b")
            && drain.out().contains("tree: moved to node-b"), "a process tree moves whole: " + drain.out());
        assertTrue(drain.out().contains("piped stays: ") && drain.out().contains("is also open in"), "the refusal is named: "
            + drain.out());
        assertTrue(drain.out().contains("3 moved, 1 stayed"), drain.out());
        assertEquals(List.of("piped"), names(pmigIn("node-a", "service", "list", "--json"), "node-a"));
        assertEquals(List.of("one", "tree", "two"), names(pmigIn("node-a", "service", "list", "--json"), "node-b"));
        pids.forEach(pid -> assertFalse(nodes.exists("node-a", pid), "moved away: " + pid));
        assertFalse(nodes.exists("node-a", tree), "the tree moved away whole");
        assertTrue(nodes.exists("node-a", piped) && !nodes.isStopped("node-a", piped), "what cannot move runs on where it was");

        assertEquals(ExitCodes.OK, pmigIn("node-a", "service", "remove", "piped").exitCode());
        Run again = pmigIn("node-a", "drain", "node-a", "--json");
        assertEquals(ExitCodes.OK, again.exitCode(), "nothing is left: " + again);
        assertTrue(again.json().path("empty").asBoolean(), again.toString());
    }

    /** The VIP of the service pmig run starts. */
    private static final String RUN_VIP = "10.77.0.60";

    @Test
    @Timeout(180)
    void aServiceStartedByPmigRunMoves() {
        Run run = pmigIn("node-a", "run", "sleeper", "--vip", RUN_VIP + "/24", "--json", "--", "sleep", "600");
        assertEquals(ExitCodes.OK, run.exitCode(), run.toString());
        String pid = run.json().path("pid").asText();
        assertTrue(nodes.inNode("node-a", "ip", "-o", "addr", "show", "dev", "eth0").contains(RUN_VIP + "/24"), "its VIP came up");
        assertEquals(RUN_VIP, run.json().path("sourceAddress").asText(), run.toString());
        assertEquals(RUN_VIP, pmigIn("node-a", "vip", "source", "--pid", pid, "--json").json().path("vip").asText(),
            "its cgroup pins its outbound sockets to its VIP");
        assertFalse(nodes.inNode("node-a", "readlink", "/proc/" + pid + "/ns/time")
            .equals(nodes.inNode("node-a", "readlink", "/proc/self/ns/time")), "in a time namespace of its own");
        assertTrue(nodes.inNode("node-a", "grep", "^NSpid:", "/proc/" + pid + "/status").strip().endsWith("\t2"),
            "the service is pid 2 of a PID namespace of its own");
        assertTrue(nodes.inNode("node-a", "cat", "/proc/" + pid + "/cgroup").contains("/pmig/sleeper"), "in cgroup pmig/sleeper");
        String init = nodes.inNode("node-a", "sh", "-c", "cut -d' ' -f4 /proc/" + pid + "/stat").strip();
        assertTrue(nodes.inNode("node-a", "readlink", "/proc/" + init + "/exe").contains("pmig-restorer"), "under pmig's init");

        Run moved = pmigIn("node-a", "migrate", "sleeper", "--to", "node-b", "--json");
        assertEquals(ExitCodes.OK, moved.exitCode(), moved.toString());
        String restored = moved.json().path("restoredPid").asText();
        assertEquals("sleep", nodes.inNode("node-b", "cat", "/proc/" + restored + "/comm").strip());
        assertTrue(nodes.inNode("node-b", "grep", "^NSpid:", "/proc/" + restored + "/status").strip().endsWith("\t2"),
            "with its own pid inside its namespace");
        assertFalse(nodes.exists("node-a", pid), "the original is gone");
        assertEquals("node-b", only(pmigIn("node-a", "service", "list", "--json"), "sleeper").path("node").asText());
        assertEquals(RUN_VIP, pmigIn("node-b", "vip", "source", "--pid", restored, "--json").json().path("vip").asText(),
            "the pin moved with it");

        Run stop = pmigIn("node-b", "service", "stop", "sleeper", "--timeout", "5", "--json");
        assertEquals(ExitCodes.OK, stop.exitCode(), stop.toString());
        assertFalse(nodes.exists("node-b", restored), "stopped");
        assertFalse(nodes.inNode("node-b", "ip", "-o", "addr", "show", "dev", "eth0").contains(RUN_VIP + "/"), "its VIP left");
        assertEquals(ExitCodes.NOT_HERE, pmigIn("node-b", "service", "status", "sleeper").exitCode(), "and its entry");
    }

    @Test
    @Timeout(180)
    void aServiceByCgroupIsItsTopProcessWithItsDescendantsAndSeparateTreesAreRefused() throws Exception {
        String cgroup = "/" + LabTestSupport.LAB + "-svc";
        Path v2 = Files.exists(Path.of("/sys/fs/cgroup/unified/cgroup.controllers")) ? Path.of("/sys/fs/cgroup/unified")
            : Path.of("/sys/fs/cgroup");      // a hybrid host has it beside the v1 controllers
        Path dir = v2.resolve(cgroup.substring(1));
        Files.createDirectories(dir);
        try {
            exec("node-a", "sh", "-c", "echo 20000 > /proc/sys/kernel/ns_last_pid");
            String pid = exec("node-a", "sh", "-c", "setsid sh -c 'echo $$ > " + dir + "/cgroup.procs; exec sleep 600'"
                + " </dev/null >/dev/null 2>&1 & echo $!").strip();
            for (int i = 0; i < 200 && !Files.readString(dir.resolve("cgroup.procs")).contains("\n"); i++) {
                LabProcs.sleep(20);
            }
            Run add = pmigIn("node-a", "service", "add", "cg", "--cgroup", cgroup, "--json");
            assertEquals(ExitCodes.OK, add.exitCode(), add.toString());
            assertEquals(pid, add.json().path("pid").asText(), "the cgroup's process: " + add);

            Run moved = pmigIn("node-a", "migrate", "cg", "--to", "node-b", "--json");
            assertEquals(ExitCodes.OK, moved.exitCode(), moved.toString());
            String restored = moved.json().path("restoredPid").asText();
            JsonNode there = only(pmigIn("node-b", "service", "list", "--json"), "cg");
            assertEquals(restored, there.path("pid").asText());
            assertEquals(nodes.inNode("node-b", "sh", "-c", "sed -n 's/^0:://p' /proc/" + restored + "/cgroup").strip(),
                there.path("cgroup").asText(), "on node-b the service is the copy's cgroup: " + there);

            String tree = exec("node-a", "sh", "-c", "setsid sh -c 'echo $$ > " + dir + "/cgroup.procs; sleep 600; true'"
                + " </dev/null >/dev/null 2>&1 & echo $!").strip();
            for (int i = 0; i < 200 && nodes.inNode("node-a", "cat", "/proc/" + tree + "/task/" + tree + "/children").isBlank(); i++) {
                LabProcs.sleep(20);
            }
            assertEquals(ExitCodes.OK, pmigIn("node-a", "service", "add", "cgtree", "--cgroup", cgroup).exitCode());
            Run treeMoved = pmigIn("node-a", "migrate", "cgtree", "--to", "node-b", "--json");
            assertEquals(ExitCodes.OK, treeMoved.exitCode(), treeMoved.toString());
            assertEquals(2, treeMoved.json().path("processes").size(), "the cgroup's top process moved with its child: " + treeMoved);
            assertFalse(nodes.exists("node-a", tree), "nothing of the tree is left on node-a");

            // two separate trees in one cgroup: no one process is the service, which a migration moves as one tree
            String first = exec("node-a", "sh", "-c", "setsid sh -c 'echo $$ > " + dir + "/cgroup.procs; exec sleep 600'"
                + " </dev/null >/dev/null 2>&1 & echo $!").strip();
            String second = exec("node-a", "sh", "-c", "setsid sh -c 'echo $$ > " + dir + "/cgroup.procs; exec sleep 601'"
                + " </dev/null >/dev/null 2>&1 & echo $!").strip();
            for (int i = 0; i < 200 && Files.readString(dir.resolve("cgroup.procs")).strip().split("\n").length < 2; i++) {
                LabProcs.sleep(20);
            }
            Run refused = pmigIn("node-a", "service", "add", "cgsplit", "--cgroup", cgroup);
            assertEquals(ExitCodes.REFUSED, refused.exitCode(), refused.toString());
            assertTrue(refused.err().contains("2 separate process trees"), refused.err());
            assertTrue(nodes.exists("node-a", first) && nodes.exists("node-a", second), "both run on");
        } finally {
            exec("node-a", "sh", "-c", "for p in $(cat " + dir + "/cgroup.procs); do kill -9 $p; done; true");
            for (int i = 0; i < 200 && !Files.readString(dir.resolve("cgroup.procs")).isBlank(); i++) {
                LabProcs.sleep(20);
            }
            Files.delete(dir);
        }
    }

    /** The one listed service named {@code name}. */
    private static JsonNode only(Run list, String name) {
        assertEquals(ExitCodes.OK, list.exitCode(), list.toString());
        List<JsonNode> found = new ArrayList<>();
        list.json().path("services").forEach(s -> {
            if (s.path("name").asText().equals(name)) {
                found.add(s);
            }
        });
        assertEquals(1, found.size(), "one service " + name + " in " + list.out());
        return found.get(0);
    }

    /** The names of the services listed on {@code node}. */
    private static List<String> names(Run list, String node) {
        assertEquals(ExitCodes.OK, list.exitCode(), list.toString());
        List<String> names = new ArrayList<>();
        list.json().path("services").forEach(s -> {
            if (s.path("node").asText().equals(node)) {
                names.add(s.path("name").asText());
            }
        });
        return names.stream().sorted().toList();
    }
}
