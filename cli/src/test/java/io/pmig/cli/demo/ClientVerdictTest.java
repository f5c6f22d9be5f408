package io.pmig.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.cli.NativeProgram;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ClientVerdictTest {
    @Test
    void readsThePassLineWithItsGaps() {
        ClientVerdict v = ClientVerdict.find("noise\nPASS connections=1 sent=11554470 received=23256839 max_stall_ms=258.3"
                + " gaps=3 gaps_ms=258.3,118.0,169.3\n").orElseThrow();
        assertTrue(v.passed());
        assertEquals(1, v.connections());
        assertEquals(11554470, v.sent());
        assertEquals(23256839, v.received());
        assertEquals(258.3, v.maxStallMillis());
        assertEquals(3, v.gaps());
        assertEquals(List.of(258.3, 118.0, 169.3), v.gapsMillis());

        ClientVerdict none = ClientVerdict.find("PASS connections=2 sent=1 received=2 max_stall_ms=12.0 gaps=0 gaps_ms=\n").orElseThrow();
        assertEquals(0, none.gaps());
        assertEquals(List.of(), none.gapsMillis());
    }

    @Test
    void readsAFailLineAndNothingElse() {
        ClientVerdict v = ClientVerdict.find("FAIL: connection 0: reset by the server (after 4096 bytes)\n").orElseThrow();
        assertFalse(v.passed());
        assertEquals("FAIL: connection 0: reset by the server (after 4096 bytes)", v.line());
        assertTrue(ClientVerdict.find("nsenter: cannot open /run/netns/x\n").isEmpty());
    }

    @Test
    void showsPmigRunInANodeAsPmig() {
        assertEquals("pmig lab exec node-a -- pmig migrate 20001 --to node-b",
                LabPmig.shown(List.of("lab", "exec", "node-a", "--", "/usr/lib/jvm/x/bin/java", "-XX:-UsePerfData", "-cp", "a:b",
                        "io.pmig.cli.Pmig", "migrate", "20001", "--to", "node-b")));
        assertEquals("pmig lab up --json", LabPmig.shown(List.of("lab", "up", "--json")));
    }

    /** The built stream-client against the built stream-server over loopback: --until-eof ends it when its stdin closes. */
    @Test
    void theBuiltClientEndsWhenItsStdinClosesWithAVerdictThisClassReads() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Process server = new ProcessBuilder(NativeProgram.path("stream-server").toString(), "127.0.0.1", Integer.toString(port))
                .redirectErrorStream(true).start();
        try {
            Process client = null;
            for (int attempt = 0; attempt < 100; attempt++) {
                client = new ProcessBuilder(NativeProgram.path("stream-client").toString(), "127.0.0.1", Integer.toString(port), "60",
                        "--until-eof").redirectErrorStream(true).start();
                Thread.sleep(500);
                if (client.isAlive()) {
                    break; // it connected (a refused connect ends it at once)
                }
            }
            long closed = System.nanoTime();
            client.getOutputStream().close();
            assertTrue(client.waitFor(10, TimeUnit.SECONDS), "the client ended when its stdin closed, not after 60 s");
            assertTrue((System.nanoTime() - closed) / 1e9 < 5, "the client ended at once");
            String out = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, client.exitValue(), out);
            ClientVerdict v = ClientVerdict.find(out).orElseThrow(() -> new AssertionError(out));
            assertTrue(v.passed(), out);
            assertTrue(v.received() > 0 && v.sent() > 0, out);
        } finally {
            server.destroyForcibly();
            server.waitFor();
        }
    }
}
