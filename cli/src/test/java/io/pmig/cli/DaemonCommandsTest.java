package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.daemon.Daemon;
import io.pmig.daemon.config.DaemonConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pmig certs init and pmig status, against a real pmigd in this JVM. */
class DaemonCommandsTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path dir;

    private static Run pmig(String... args) {
        return Run.of(new FakeEngines(), true, args);
    }

    @Test
    void certsInitMakesACaAndNodeCertificatesAndKeepsThemOnASecondRun() throws Exception {
        Path certs = dir.resolve("tls");
        Run first = pmig("certs", "init", "--dir", certs.toString(), "--nodes", "node-a,node-b", "--json");
        assertEquals(ExitCodes.OK, first.exitCode(), first.err());
        JsonNode json = MAPPER.readTree(first.out());
        assertTrue(json.get("caCreated").asBoolean());
        assertEquals("[\"node-a\",\"node-b\"]", json.get("created").toString());
        for (String file : new String[] {"ca.pem", "ca.key", "node-a.pem", "node-a.key", "node-b.pem", "node-b.key"}) {
            assertTrue(Files.isRegularFile(certs.resolve(file)), file);
        }
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(certs.resolve("node-a.key"))), "keys are their owner's alone");
        String caBefore = Files.readString(certs.resolve("ca.pem"));

        Run second = pmig("certs", "init", "--dir", certs.toString(), "--nodes", "node-b,node-c");
        assertEquals(ExitCodes.OK, second.exitCode(), second.err());
        assertTrue(second.out().contains("kept the cluster CA") && second.out().contains("made " + certs.resolve("node-c.pem"))
                && second.out().contains("kept " + certs.resolve("node-b.pem")), second.out());
        assertEquals(caBefore, Files.readString(certs.resolve("ca.pem")), "the same CA signs the added node");

        Run bad = pmig("certs", "init", "--dir", certs.toString(), "--nodes", "Node_X");
        assertEquals(ExitCodes.USAGE, bad.exitCode());
        assertTrue(bad.err().contains("'Node_X' is not a node name"), bad.err());
    }

    /** --days 999999999 ended in a stack trace and left ca.key alone, which the next run refused. */
    @Test
    void certsInitRefusesAnImpossibleValidityOrDirectoryAndLeavesNothing() throws Exception {
        Path certs = dir.resolve("tls");
        Run tooLong = pmig("certs", "init", "--dir", certs.toString(), "--nodes", "node-a", "--days", "999999999");
        assertEquals(ExitCodes.USAGE, tooLong.exitCode(), tooLong.err());
        assertTrue(tooLong.err().startsWith("pmig: --days: a certificate valid for 999999999 days is impossible: give 1 to ")
                && !tooLong.err().contains("\tat "), tooLong.err());
        assertFalse(Files.exists(certs), "nothing was made");

        Path file = Files.writeString(dir.resolve("a-file"), "");
        Path underAFile = file.resolve("tls");
        Run unwritable = pmig("certs", "init", "--dir", underAFile.toString(), "--nodes", "node-a");
        assertEquals(ExitCodes.REFUSED, unwritable.exitCode(), unwritable.err());
        assertTrue(unwritable.err().startsWith("pmig: cannot write the certificates in " + underAFile + " (")
                && unwritable.err().contains("make it writable, or choose another --dir; nothing was left there")
                && unwritable.err().strip().lines().count() == 1, unwritable.err());
        assertEquals(List.of(file), Files.list(dir).toList(), "nothing was left");
        assertEquals(ExitCodes.OK, pmig("certs", "init", "--dir", certs.toString(), "--nodes", "node-a").exitCode(),
                "the next run starts afresh");
    }

    @Test
    void statusWithoutADaemonNamesTheSocketAndHowToStartIt() throws Exception {
        Path socket = dir.resolve("pmigd.sock");
        Run run = pmig("status", "--daemon-socket", socket.toString(), "--json");
        assertEquals(ExitCodes.REFUSED, run.exitCode());
        assertTrue(run.err().contains("pmigd is not running: there is no control socket " + socket)
                && run.err().contains("systemctl start pmigd"), run.err());
        assertEquals(ExitCodes.REFUSED, MAPPER.readTree(run.out()).get("exitCode").asInt());
    }

    @Test
    void statusShowsTheNodeItsPeersAndItsMigrations() throws Exception {
        Path certs = dir.resolve("tls");
        assertEquals(ExitCodes.OK, pmig("certs", "init", "--dir", certs.toString(), "--nodes", "node-a").exitCode());
        Properties p = new Properties();
        p.setProperty("node.name", "node-a");
        p.setProperty("listen", "127.0.0.1:0");
        p.setProperty("peer.node-b", "127.0.0.1:1");
        p.setProperty("tls.ca", certs.resolve("ca.pem").toString());
        p.setProperty("tls.cert", certs.resolve("node-a.pem").toString());
        p.setProperty("tls.key", certs.resolve("node-a.key").toString());
        p.setProperty("control.socket", dir.resolve("pmigd.sock").toString());
        try (Daemon daemon = Daemon.start(DaemonConfig.parse(p, "test"))) {
            // what pmigd's engine warm-up adds to the status once it has ended (the warm-up itself: EngineWarmUpTest)
            daemon.onStatus("warmUp", () -> MAPPER.createObjectNode().put("state", "done").put("moves", 200).put("of", 200)
                    .put("failedMoves", 1).put("millis", 21_240));
            Run text = pmig("status", "--daemon-socket", dir.resolve("pmigd.sock").toString());
            assertEquals(ExitCodes.OK, text.exitCode(), text.err());
            assertTrue(text.out().startsWith("node-a: listening on " + daemon.listening() + " (TLS)"), text.out());
            assertTrue(text.out().contains("node-b     127.0.0.1:1") && text.out().contains("unreachable: cannot connect to node-b"),
                    text.out());
            assertTrue(text.out().contains("migrations: none running"), text.out());
            assertTrue(text.out().contains("dns: none configured (no dns.server)"), text.out());
            assertTrue(text.out().contains("engine warm-up: done, 200 of 200 moves in 21.2 s, 1 failed\n"), text.out());

            Run json = pmig("status", "--daemon-socket", dir.resolve("pmigd.sock").toString(), "--json");
            JsonNode status = MAPPER.readTree(json.out());
            assertEquals("node-a", status.get("node").asText());
            assertEquals("unreachable", status.get("peers").get(0).get("state").asText());
            assertFalse(status.get("peers").get(0).get("authenticated").asBoolean());
            assertEquals(200, status.get("warmUp").get("moves").asInt(), "a section the daemon added: " + status);
        }
    }
}
