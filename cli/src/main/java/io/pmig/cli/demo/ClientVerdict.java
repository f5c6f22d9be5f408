package io.pmig.cli.demo;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The verdict line of stream-client (cli/src/main/c/stream-client.c) in streaming mode. A PASS
 * means it checked every byte from the server against the pattern (none lost, duplicated or
 * reordered) and saw no reset and no early EOF; a gap is a stall of 50 ms or more.
 */
record ClientVerdict(boolean passed, String line, int connections, long sent, long received, double maxStallMillis,
        int gaps, List<Double> gapsMillis) {
    private static final Pattern PASS = Pattern.compile(
            "PASS connections=(\\d+) sent=(\\d+) received=(\\d+) max_stall_ms=([0-9.]+) gaps=(\\d+) gaps_ms=([0-9.,]*)");

    /** The verdict in the client's output: its PASS line, else its FAIL line; empty when it printed neither. */
    static Optional<ClientVerdict> find(String output) {
        for (String line : output.lines().toList()) {
            Matcher m = PASS.matcher(line.strip());
            if (m.matches()) {
                List<Double> gaps = m.group(6).isEmpty() ? List.of()
                        : Arrays.stream(m.group(6).split(",")).map(Double::valueOf).toList();
                return Optional.of(new ClientVerdict(true, line.strip(), Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)),
                        Long.parseLong(m.group(3)), Double.parseDouble(m.group(4)), Integer.parseInt(m.group(5)), gaps));
            }
        }
        return output.lines().map(String::strip).filter(l -> l.startsWith("FAIL")).findFirst()
                .map(l -> new ClientVerdict(false, l, 0, 0, 0, 0, 0, List.of()));
    }
}
