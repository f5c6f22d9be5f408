package io.pmig.cli.lab;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A stream-client in the lab's client host, started with --until-eof: it checks every byte until the test asks for its
 * {@link #verdict}, and then ends as soon as the server still answers (each connection received a byte since, or one
 * more lock-step request was answered). So a test takes as long as its steps, not as long as a client duration chosen
 * to outlast them. {@code pmig lab down} kills a client a failed test left.
 */
final class StreamClient {
    /** The longest a client runs, beyond any test's timeout: it ends much earlier, when asked for its verdict. */
    private static final String MAX_SECONDS = "600";
    /**
     * How long the server may take to answer once the verdict is asked: after a long stop both ends retransmit with
     * backoff, and a live connection retransmits at least every TCP_RTO_MAX (120 s, include/net/tcp.h).
     */
    private static final long ANSWER_SECONDS = 130;

    private final Process process;
    private final CompletableFuture<String> out;
    private final CompletableFuture<String> err;

    private StreamClient(Process process) {
        this.process = process;
        this.out = CompletableFuture.supplyAsync(() -> LabTestSupport.readAll(process.getInputStream()));
        this.err = CompletableFuture.supplyAsync(() -> LabTestSupport.readAll(process.getErrorStream()));
    }

    /**
     * Starts stream-client to {@code address} (the VIP, or a name the client's resolver answers) with {@code options}, and
     * returns once all its connections are established: from then on it streams.
     */
    static StreamClient start(String address, String port, String... options) throws Exception {
        List<String> optionList = List.of(options);
        String netns = new LabLayout(LabTestSupport.LAB).netns("client");
        int connections = optionList.contains("--connections") ? Integer.parseInt(options[optionList.indexOf("--connections") + 1]) : 1;
        int before = established(netns, port);
        // ip netns exec, as pmig lab exec client does: it also puts the lab's resolv.conf in place for the client
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", netns,
            StreamService.program("stream-client"), address, port, MAX_SECONDS, "--until-eof"));
        command.addAll(optionList);
        StreamClient client;
        try {
            client = new StreamClient(new ProcessBuilder(command).start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", command), e);
        }
        for (int i = 0; i < 3000 && established(netns, port) < before + connections; i++) {
            if (!client.process.isAlive()) {
                fail("the client ended before it had connected: " + client.verdict());
            }
            Thread.sleep(20);
        }
        assertTrue(established(netns, port) >= before + connections, "the client's " + connections + " connection(s) to "
            + address + ":" + port + " were established within a minute");
        return client;
    }

    /** How many TCP connections to {@code port} are established in network namespace {@code netns}. */
    private static int established(String netns, String port) {
        LabShell.Result ss = new LabShell().attempt("ip", "netns", "exec", netns, "ss", "-Htn", "state", "established",
            "dport = :" + port);
        assertTrue(ss.ok(), ss.failure());
        return (int) ss.out().lines().filter(line -> !line.isBlank()).count();
    }

    /** Ends the client (closes its stdin) and returns its verdict line: "PASS ..." or "FAIL: ...". */
    String verdict() throws Exception {
        process.getOutputStream().close();
        if (!process.waitFor(ANSWER_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail("the client heard nothing from the server within " + ANSWER_SECONDS + " s of being asked to end (killed): "
                + out.get(10, TimeUnit.SECONDS));
        }
        return (out.get(10, TimeUnit.SECONDS).strip() + " " + err.get(10, TimeUnit.SECONDS).strip()).strip();
    }
}
