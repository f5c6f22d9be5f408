package io.pmig.daemon.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The engine's warm-up as a daemon runs it: its moves, how it gives way to work, and the sleep it leaves behind (none). */
class EngineWarmUpTest {
    private static final long DEADLINE_MILLIS = 180_000;

    @Test
    void itMakesItsMovesThenKillsItsSleep() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the moves checkpoint and restore a process");
        EngineWarmUp warmUp = EngineWarmUp.start(10, () -> { });
        try {
            ObjectNode status = await(warmUp, s -> !s.path("state").asText().equals("running")
                && !s.path("state").asText().equals("starting"));
            assertEquals("done", status.path("state").asText(), status.toString());
            assertEquals(10, status.path("moves").asInt(), status.toString());
            assertEquals(10, status.path("of").asInt(), status.toString());
            awaitNoSleep();
        } finally {
            warmUp.close();
        }
    }

    @Test
    void workStopsTheMovesAfterTheOneInFlight() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the moves checkpoint and restore a process");
        EngineWarmUp warmUp = EngineWarmUp.start(100_000, () -> { });
        try {
            await(warmUp, s -> s.path("moves").asInt() >= 2);
            warmUp.giveWay();
            int movesWhenWorkCame = warmUp.status().path("moves").asInt();
            ObjectNode status = await(warmUp, s -> s.path("state").asText().equals("stopped"));
            assertEquals(movesWhenWorkCame, status.path("moves").asInt(), "no move began once the daemon had work: " + status);
            awaitNoSleep();
        } finally {
            warmUp.close();
        }
    }

    private static ObjectNode await(EngineWarmUp warmUp, Predicate<ObjectNode> condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + DEADLINE_MILLIS;
        ObjectNode status = warmUp.status();
        while (!condition.test(status)) {
            assertTrue(System.currentTimeMillis() < deadline, "the warm-up did not get there: " + status);
            assertTrue(!status.path("state").asText().equals("failed"), "the warm-up failed: " + status);
            Thread.sleep(20);
            status = warmUp.status();
        }
        return status;
    }

    /** The warm-up's sleeps (their command line names this JVM) are gone once the warm-up has ended. */
    private static void awaitNoSleep() throws IOException, InterruptedException {
        String cmdline = "sleep\0" + "600." + ProcessHandle.current().pid() + "\0";
        long deadline = System.currentTimeMillis() + DEADLINE_MILLIS;
        while (sleepRuns(cmdline)) {
            assertTrue(System.currentTimeMillis() < deadline, "the warm-up's sleep still runs");
            Thread.sleep(20);
        }
    }

    private static boolean sleepRuns(String cmdline) throws IOException {
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).anyMatch(p -> {
                try {
                    return new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).equals(cmdline);
                } catch (IOException gone) {
                    return false;
                }
            });
        }
    }
}
