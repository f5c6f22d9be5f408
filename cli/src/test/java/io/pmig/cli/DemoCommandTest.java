package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.cli.demo.MigrationDemo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class DemoCommandTest {
    /** A lab name of this test's own, so that a demo someone runs meanwhile is not disturbed. */
    private static final String LAB = "pmig-demotest";

    @Test
    void refusesWithoutRootAndBuildsNothing() {
        Run run = Run.of(new FakeEngines(), false, "demo", "--lab", LAB);

        assertEquals(ExitCodes.REFUSED, run.exitCode(), run.out() + run.err());
        assertTrue(run.err().startsWith("pmig: demo must run as root: "), run.err());
        assertEquals("", run.out());
        assertFalse(Files.exists(Path.of("/run/netns", LAB + "-node-a")), "no lab was built");
    }

    /** The demo as README.md runs it, end to end: needs root. */
    @Test
    @Timeout(300)
    void movesTheServerToNodeBAndBackWhileTheClientChecksEveryByte() throws Exception {
        assumeTrue(Pmig.effectiveUidIsRoot(), "the demo builds a lab: needs root");
        Run run = Run.of(Engines.real(), true, "demo", "--lab", LAB, "--json");

        JsonNode result = new ObjectMapper().readTree(run.out());
        assertEquals(ExitCodes.OK, run.exitCode(), run.out() + run.err());
        assertEquals("PASS", result.path("verdict").asText(), run.out() + run.err());
        JsonNode moves = result.path("migrations");
        assertEquals(2, moves.size(), run.out());
        assertMoved(moves.get(0), "node-a", "node-b");
        assertMoved(moves.get(1), "node-b", "node-a");
        int onNodeB = moves.get(0).path("restoredPid").asInt();
        assertEquals(onNodeB, moves.get(1).path("pid").asInt(), "the second move takes the copy the first made: " + run.out());
        assertEquals(result.path("pid").asInt(), moves.get(1).path("restoredPid").asInt(), run.out());

        JsonNode client = result.path("client");
        assertEquals("PASS", client.path("verdict").asText(), run.out());
        assertEquals(1, client.path("connections").asInt(), run.out());
        assertTrue(client.path("bytesReceived").asLong() > 1_000_000, "the stream flowed: " + client);
        assertTrue(client.path("bytesSent").asLong() > 1_000_000, "the stream flowed: " + client);
        assertTrue(client.path("maxStallMillis").asDouble() < 2_000, "the stream flowed after the moves: " + client);

        List<String> progress = run.err().lines().toList();
        assertTrue(progress.stream().anyMatch(l -> l.contains("its name web.pmig.test published: in node-a, pmig run web")), run.err());
        assertEquals(2, progress.stream().filter(l -> l.contains("DNS, as the client resolves it: web.pmig.test. 60 IN A "
                + MigrationDemo.VIP)).count(), "the name resolves to the VIP before and after the moves: " + run.err());
        assertEquals("web.pmig.test", result.path("dns").asText(), run.out());
        assertTrue(progress.stream().anyMatch(l -> l.contains("stream-server runs on node-b as pid " + onNodeB
                + " (pid 2 inside a PID namespace of its own)")), run.err());
        assertTrue(progress.stream().anyMatch(l -> l.contains("migrated service web, process " + onNodeB + " from node-b to node-a")),
                run.err());
        assertFalse(Files.exists(Path.of("/run/netns", LAB + "-node-a")), "the lab was removed");
        assertFalse(Files.exists(Path.of("/run", LAB)), "the lab's state was removed");
    }

    @Test
    @Timeout(120)
    void refusesWhenALabOfItsNameIsUpAndLeavesThatLabAlone() {
        assumeTrue(Pmig.effectiveUidIsRoot(), "the lab needs root");
        assertEquals(0, pmigOnLab("lab", "up"));
        Run run = Run.of(Engines.real(), true, "demo", "--lab", LAB);

        assertEquals(ExitCodes.REFUSED, run.exitCode(), run.out() + run.err());
        assertTrue(run.err().contains("a lab named " + LAB + " is up"), run.err());
        assertEquals(0, pmigOnLab("lab", "status"), "the lab is still up and healthy");
    }

    /** The service moved by name, in the PID namespace pmig run gave it. */
    private static void assertMoved(JsonNode report, String from, String to) {
        assertEquals("web", report.path("service").asText(), report.toString());
        assertEquals(from, report.path("from").asText(), report.toString());
        assertEquals(to, report.path("to").asText(), report.toString());
        assertTrue(report.path("notes").toString().contains("lives in a PID namespace of its own"), report.toString());
        assertEquals(MigrationDemo.VIP, report.path("vip").asText(), report.toString());
        assertTrue(report.path("downtimeMillis").asDouble() > 0, report.toString());
    }

    @AfterEach
    void removeTheLabEvenWhenTheTestFailed() {
        if (Pmig.effectiveUidIsRoot()) {
            assertEquals(0, pmigOnLab("lab", "down"));
        }
    }

    /** Runs pmig in a JVM of its own on this test's lab; returns its exit code. */
    private static int pmigOnLab(String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:-UsePerfData", "-cp", System.getProperty("java.class.path"), Pmig.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(Redirect.DISCARD).redirectError(Redirect.INHERIT);
        builder.environment().put("PMIG_LAB_NAME", LAB);
        try {
            Process process = builder.start();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("pmig " + String.join(" ", args) + " did not finish in 60 s");
            }
            return process.exitValue();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
