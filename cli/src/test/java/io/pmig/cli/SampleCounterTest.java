package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SampleCounterTest {
    @Test
    void parsesCompleteLinesOnly() {
        SampleCounter.Line line = SampleCounter.parse(
                "pid 1234 count 17 time_ms 1732270000123 checksum 0123456789abcdef memory ok threads 4").orElseThrow();
        assertEquals(1234, line.pid());
        assertEquals(17, line.count());
        assertEquals(1732270000123L, line.timeMs());
        assertEquals("0123456789abcdef", line.checksum());
        assertTrue(line.memoryOk());
        assertEquals(4, line.threads());

        assertFalse(SampleCounter.parse("pid 1234 count 17 time_ms 1732270000123 checksum 0123456789abcdef memory BAD threads 4")
                .orElseThrow().memoryOk());
        assertTrue(SampleCounter.parse("pid 1234 count 17 time_ms 1732270000123 checksum 0123456789ab").isEmpty(), "cut short");
        assertTrue(SampleCounter.parse("pid 1234 count 17 time_ms 1732270000123 checksum 0123456789abcdef memory ok threads ")
                .isEmpty(), "cut short");
        assertTrue(SampleCounter.parse("hello").isEmpty());
    }

    @Test
    void theBuiltProgramCountsWithItsMemoryAndFourThreads(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("counter.log");
        Process process = new ProcessBuilder(SampleCounter.binary().toString(), log.toString(), "3")
                .redirectErrorStream(true).start();
        assertTrue(process.waitFor(10, TimeUnit.SECONDS), "3 lines take about 300 ms");
        assertEquals(0, process.exitValue(), new String(process.getInputStream().readAllBytes()));

        List<SampleCounter.Line> lines = SampleCounter.read(log);
        assertEquals(3, lines.size(), lines.toString());
        for (int i = 0; i < lines.size(); i++) {
            SampleCounter.Line line = lines.get(i);
            assertEquals(process.pid(), line.pid());
            assertEquals(i + 1, line.count());
            assertTrue(line.memoryOk(), line.text());
            assertEquals(SampleCounter.THREADS, line.threads(), line.text());
            if (i > 0) {
                long step = line.timeMs() - lines.get(i - 1).timeMs();
                assertTrue(step >= 100 && step < 1000, "about 100 ms between lines, not " + step);
                assertFalse(line.checksum().equals(lines.get(i - 1).checksum()), "memory is rewritten every line");
            }
        }
    }

    @Test
    void theBuiltProgramRejectsBadArguments() throws Exception {
        Process process = new ProcessBuilder(SampleCounter.binary().toString()).redirectErrorStream(true).start();
        assertTrue(process.waitFor(10, TimeUnit.SECONDS));
        assertEquals(2, process.exitValue());
        assertTrue(new String(process.getInputStream().readAllBytes()).startsWith("usage: "));
    }
}
