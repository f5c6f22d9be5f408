package io.pmig.cli;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The program {@code pmig demo} checkpoints: cli/src/main/c/sample-counter.c, built by the Maven
 * build into target/classes/native. It appends one line to its log about every 100 ms:
 * {@code pid 1234 count 17 time_ms 1732270000123 checksum 0123456789abcdef memory ok threads 4}.
 */
final class SampleCounter {
    static final int THREADS = 4;
    static final long MEMORY_BYTES = 64L << 20;

    private static final String RESOURCE = "/native/sample-counter";
    private static final Pattern LINE = Pattern.compile(
            "pid (\\d+) count (\\d+) time_ms (\\d+) checksum ([0-9a-f]{16}) memory (ok|BAD) threads (\\d+)");

    private SampleCounter() {
    }

    /** One log line; {@code memoryOk} says all its memory matched the checksum it keeps. */
    record Line(int pid, long count, long timeMs, String checksum, boolean memoryOk, int threads, String text) {
    }

    /** The built program; fails with the command that builds it when it is missing. */
    static Path binary() {
        URL url = SampleCounter.class.getResource(RESOURCE);
        if (url == null || !url.getProtocol().equals("file")) {
            throw new IllegalStateException("sample-counter is not built (no " + RESOURCE
                    + " among the classes): run mvn -q -B package -DskipTests (it needs gcc and make)");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException("bad location of sample-counter: " + url, e);
        }
    }

    static Optional<Line> parse(String text) {
        Matcher m = LINE.matcher(text);
        if (!m.matches()) {
            return Optional.empty();
        }
        return Optional.of(new Line(Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)),
                Long.parseLong(m.group(3)), m.group(4), m.group(5).equals("ok"), Integer.parseInt(m.group(6)), text));
    }

    /** The complete lines of the log so far (a line still being written does not parse and is left out). */
    static List<Line> read(Path log) throws IOException {
        List<Line> lines = new ArrayList<>();
        if (Files.exists(log)) {
            for (String text : Files.readAllLines(log)) {
                parse(text).ifPresent(lines::add);
            }
        }
        return lines;
    }
}
