package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.StepTimes;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PmigTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final CheckpointReport CHECKPOINT = new CheckpointReport(
            42, Path.of("/tmp/img"), 4, 23, 16384, 64L << 20, (64L << 20) + 4096, 5, false, 40_000_000, 50_000_000,
            new StepTimes(List.of(new StepTimes.Step("freeze", 1_500_000), new StepTimes.Step("pages", 38_500_000))), List.of(42),
            new StepTimes(List.of(new StepTimes.Step("pre-flight", 5_000_000), new StepTimes.Step("frozen", 40_000_000),
                new StepTimes.Step("authentication", 5_000_000))));
    private static final RestoreReport RESTORE = new RestoreReport(42, 4, 23, 16384, 64L << 20, 5, 25_000_000,
            new StepTimes(List.of(new StepTimes.Step("launch", 5_000_000), new StepTimes.Step("pages", 20_000_000))), List.of(42));

    private final FakeEngines engines = new FakeEngines();

    @Test
    void checkpointHandsPidDirAndOptionsToTheEngineAndPrintsWhatItSaved() {
        engines.onCheckpoint = pid -> CHECKPOINT;
        Run run = Run.of(engines, true, "checkpoint", "42", "--dir", "/tmp/img");

        assertEquals(ExitCodes.OK, run.exitCode(), run.err());
        assertEquals(42, engines.checkpointPid);
        assertEquals(Path.of("/tmp/img"), engines.checkpointDir);
        assertFalse(engines.checkpointOptions.leaveRunning());
        assertEquals("""
                checkpointed pid 42 into /tmp/img (the process was killed after the checkpoint)
                  processes    42
                  threads      4
                  mappings     23
                  memory       16384 pages, 64.0 MiB
                  descriptors  5
                  image        64.0 MiB
                  frozen       40.0 ms
                  total        50.0 ms, 1.25 GiB/s
                """, run.out());
        assertEquals("", run.err());
    }

    @Test
    void leaveRunningAndNewPidNamespaceReachTheEngine() {
        engines.onCheckpoint = pid -> CHECKPOINT;
        engines.onRestore = dir -> RESTORE;

        assertEquals(ExitCodes.OK, Run.of(engines, true, "checkpoint", "42", "--dir=/tmp/img", "--leave-running").exitCode());
        assertTrue(engines.checkpointOptions.leaveRunning());
        assertEquals(ExitCodes.OK, Run.of(engines, true, "restore", "--dir", "/tmp/img", "--new-pid-namespace").exitCode());
        assertTrue(engines.restoreOptions.newPidNamespace());
        assertEquals(Path.of("/tmp/img"), engines.restoreDir);
        assertEquals(ExitCodes.OK, Run.of(engines, true, "restore", "--dir", "/tmp/img").exitCode());
        assertFalse(engines.restoreOptions.newPidNamespace());
    }

    @Test
    void unlockLetsTheImagesConnectionsGoAndRestoresNothing() {
        Run run = Run.of(engines, true, "restore", "--dir", "/tmp/img", "--unlock");

        assertEquals(ExitCodes.OK, run.exitCode(), run.err());
        assertEquals(Path.of("/tmp/img"), engines.unlockDir);
        assertEquals(null, engines.restoreDir, "nothing restored");
        assertEquals("released 0 TCP connection(s) of the image in /tmp/img; nothing was restored\n", run.out());
    }

    @Test
    void restorePrintsTheRestoredPid() {
        engines.onRestore = dir -> RESTORE;
        Run run = Run.of(engines, true, "restore", "--dir", "/tmp/img");

        assertEquals(ExitCodes.OK, run.exitCode(), run.err());
        assertTrue(run.out().startsWith("restored pid 42 from /tmp/img\n"), run.out());
        assertTrue(run.out().contains("  memory       16384 pages, 64.0 MiB\n"), run.out());
    }

    @Test
    void aTreeIsReportedWithEveryProcess() {
        engines.onRestore = dir -> new RestoreReport(42, 6, 90, 100, 409600, 20, 25_000_000, io.pmig.checkpoint.StepTimes.NONE,
            List.of(42, 43, 47));
        Run run = Run.of(engines, true, "restore", "--dir", "/tmp/img");
        assertEquals(ExitCodes.OK, run.exitCode(), run.err());
        assertTrue(run.out().contains("  processes    42 and its 2 descendant(s): 43 47\n"), run.out());
    }

    @Test
    void checkpointJsonHasEveryFieldOfTheReport() throws Exception {
        engines.onCheckpoint = pid -> CHECKPOINT;
        Run run = Run.of(engines, true, "checkpoint", "42", "--dir", "/tmp/img", "--json");

        assertEquals(ExitCodes.OK, run.exitCode(), run.err());
        assertEquals(1, run.out().lines().count(), "one JSON object on one line");
        JsonNode json = MAPPER.readTree(run.out());
        assertEquals(List.of("pid", "image", "processes", "threads", "mappings", "pagesStored", "pageBytes", "imageBytes",
                "descriptors", "leftRunning", "frozenNanos", "totalNanos", "bytesPerSecond", "frozenSteps", "totalSteps"), fieldNames(json));
        assertEquals("[{\"step\":\"freeze\",\"millis\":1.5},{\"step\":\"pages\",\"millis\":38.5}]", json.get("frozenSteps").toString());
        assertEquals("[{\"step\":\"pre-flight\",\"millis\":5.0},{\"step\":\"frozen\",\"millis\":40.0},"
            + "{\"step\":\"authentication\",\"millis\":5.0}]", json.get("totalSteps").toString());
        assertEquals(42, json.get("pid").intValue());
        assertEquals("/tmp/img", json.get("image").textValue());
        assertEquals(4, json.get("threads").intValue());
        assertEquals(23, json.get("mappings").intValue());
        assertEquals(16384, json.get("pagesStored").longValue());
        assertEquals(64L << 20, json.get("pageBytes").longValue());
        assertEquals((64L << 20) + 4096, json.get("imageBytes").longValue());
        assertEquals(5, json.get("descriptors").intValue());
        assertFalse(json.get("leftRunning").booleanValue());
        assertEquals(40_000_000, json.get("frozenNanos").longValue());
        assertEquals(50_000_000, json.get("totalNanos").longValue());
        assertEquals(Math.round((64L << 20) / 0.05), json.get("bytesPerSecond").longValue());
    }

    @Test
    void restoreJsonHasEveryFieldOfTheReport() throws Exception {
        engines.onRestore = dir -> RESTORE;
        Run run = Run.of(engines, true, "restore", "--dir", "/tmp/img", "--json");

        assertEquals(ExitCodes.OK, run.exitCode(), run.err());
        JsonNode json = MAPPER.readTree(run.out());
        assertEquals(List.of("pid", "image", "processes", "threads", "mappings", "pagesRestored", "pageBytes", "descriptors",
                "totalNanos", "bytesPerSecond", "steps"), fieldNames(json));
        assertEquals("[{\"step\":\"launch\",\"millis\":5.0},{\"step\":\"pages\",\"millis\":20.0}]", json.get("steps").toString());
        assertEquals(42, json.get("pid").intValue());
        assertEquals(16384, json.get("pagesRestored").longValue());
        assertEquals(25_000_000, json.get("totalNanos").longValue());
    }

    @Test
    void aRefusalExitsWith3AndSaysNothingWasChanged() {
        engines.onCheckpoint = pid -> {
            throw new RefusedException("pid 42 has a descriptor pmig cannot restore: fd 7 (socket:[1234], netlink)");
        };
        Run run = Run.of(engines, true, "checkpoint", "42", "--dir", "/tmp/img");

        assertEquals(ExitCodes.REFUSED, run.exitCode());
        assertEquals("pmig: pid 42 has a descriptor pmig cannot restore: fd 7 (socket:[1234], netlink)"
                + " (nothing was changed)\n", run.err());
        assertEquals("", run.out());
    }

    @Test
    void aFailureExitsWith1WithTheEnginesMessage() {
        engines.onRestore = dir -> {
            throw new FailedException("writing the memory of pid 42 failed: EFAULT; the half-restored process was killed");
        };
        Run run = Run.of(engines, true, "restore", "--dir", "/tmp/img");

        assertEquals(ExitCodes.FAILED, run.exitCode());
        assertEquals("pmig: writing the memory of pid 42 failed: EFAULT; the half-restored process was killed\n", run.err());
    }

    @Test
    void anUnexpectedExceptionExitsWith1InOneLineWithWhereItWasThrownAndNoTrace() {
        engines.onCheckpoint = pid -> {
            throw new IllegalStateException("bug");
        };
        Run run = Run.of(engines, true, "checkpoint", "42", "--dir", "/tmp/img");

        assertEquals(ExitCodes.FAILED, run.exitCode());
        assertTrue(run.err().matches("pmig: unexpected error: java.lang.IllegalStateException: bug at io\\.pmig\\.cli\\.PmigTest\\.\\S+"
                + " \\(the process or the image directory may have been changed\\)\n"), run.err());
    }

    @Test
    void inJsonModeErrorsAlsoGoToStdoutAsJson() throws Exception {
        engines.onCheckpoint = pid -> {
            throw new RefusedException("pid 42 does not exist");
        };
        engines.onRestore = dir -> {
            throw new FailedException("restore failed; nothing of it is left");
        };

        Run refused = Run.of(engines, true, "checkpoint", "42", "--dir", "/tmp/img", "--json");
        assertEquals(ExitCodes.REFUSED, refused.exitCode());
        assertEquals("pmig: pid 42 does not exist (nothing was changed)\n", refused.err());
        JsonNode json = MAPPER.readTree(refused.out());
        assertEquals(List.of("error", "exitCode"), fieldNames(json));
        assertEquals("pid 42 does not exist (nothing was changed)", json.get("error").textValue());
        assertEquals(ExitCodes.REFUSED, json.get("exitCode").intValue());

        Run failed = Run.of(engines, true, "restore", "--json", "--dir", "/tmp/img");
        assertEquals(ExitCodes.FAILED, failed.exitCode());
        assertEquals(ExitCodes.FAILED, MAPPER.readTree(failed.out()).get("exitCode").intValue());

        Run usage = Run.of(engines, true, "checkpoint", "--json", "--dir", "/tmp/img");
        assertEquals(ExitCodes.USAGE, usage.exitCode());
        JsonNode usageJson = MAPPER.readTree(usage.out());
        assertEquals(ExitCodes.USAGE, usageJson.get("exitCode").intValue());
        assertTrue(usageJson.get("error").textValue().contains("PID"), usageJson.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "",
        "checkpoint --dir /tmp/img",
        "checkpoint abc --dir /tmp/img",
        "checkpoint 0 --dir /tmp/img",
        "checkpoint -5 --dir /tmp/img",
        "checkpoint 42",
        "checkpoint 42 43 --dir /tmp/img",
        "checkpoint 42 --dir /tmp/img --bogus",
        "restore",
        "restore 42 --dir /tmp/img",
        "chekpoint 42 --dir /tmp/img"})
    void usageErrorsExitWith2BeforeTheEngineIsCalled(String args) {
        Run run = Run.of(engines, true, args.isEmpty() ? new String[0] : args.split(" "));

        assertEquals(ExitCodes.USAGE, run.exitCode(), run.err());
        assertTrue(run.err().startsWith("pmig: "), run.err());
        assertTrue(run.err().contains("--help' for usage."), run.err());
        assertEquals("", run.out());
        assertEquals(0, engines.calls);
    }

    @ParameterizedTest
    @ValueSource(strings = {"checkpoint 42 --dir /tmp/img", "restore --dir /tmp/img", "demo"})
    void withoutRootEveryCommandIsRefusedBeforeTheEngineIsCalled(String args) {
        Run run = Run.of(engines, false, args.split(" "));

        assertEquals(ExitCodes.REFUSED, run.exitCode());
        assertTrue(run.err().startsWith("pmig: " + args.split(" ")[0] + " must run as root: "), run.err());
        assertEquals(0, engines.calls);
    }

    /** They used to end in a stack trace from the ARP probe's socket (EPERM). */
    @ParameterizedTest
    @ValueSource(strings = {"vip add 10.77.0.50/24 --dev eth0", "vip remove 10.77.0.50/24 --dev eth0"})
    void vipChangesWithoutRootAreOneLineRefusals(String args) {
        Run run = Run.of(engines, false, args.split(" "));

        assertEquals(ExitCodes.REFUSED, run.exitCode());
        assertEquals("pmig: " + args.substring(0, args.indexOf(" 10.")) + " must run as root: it changes the interface's addresses"
            + " (CAP_NET_ADMIN) and sends ARP (CAP_NET_RAW); pmig vip list needs no privilege (nothing was changed)", run.err().strip());
    }

    @Test
    void helpListsTheExitCodes() {
        for (String[] args : new String[][] {{"--help"}, {"checkpoint", "--help"}, {"restore", "-h"}, {"demo", "--help"}}) {
            Run run = Run.of(engines, true, args);
            assertEquals(ExitCodes.OK, run.exitCode());
            assertTrue(run.out().contains("""
                    Exit codes:
                      0   success
                      1   failed after something was changed; the message says what state was left
                      2   usage error
                      3   refused before anything was touched
                    """), run.out());
        }
    }

    @Test
    void versionIsTheProjectVersion() {
        Run run = Run.of(engines, true, "--version");
        assertEquals(ExitCodes.OK, run.exitCode());
        assertTrue(run.out().matches("pmig \\d+\\.\\d+\\.\\d+.*\\n"), run.out());
    }

    private static List<String> fieldNames(JsonNode json) {
        List<String> names = new ArrayList<>();
        json.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
