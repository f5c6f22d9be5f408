package io.pmig.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.daemon.migration.MigrationService;
import io.pmig.daemon.service.ServiceRegistry;
import io.pmig.daemon.config.HostPort;
import io.pmig.daemon.control.ControlClient;
import io.pmig.daemon.control.ControlServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.regex.Pattern;
import java.util.regex.Matcher;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Whole daemons in this JVM: their status over the control socket, and who may migrate what (SO_PEERCRED). */
class DaemonTest {
    private static final HostPort NOWHERE = new HostPort("127.0.0.1", 1);
    private static final int NOBODY = 65534;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path dir;

    /** A directory anyone may enter (the control socket of the SO_PEERCRED test must be reachable by nobody). */
    private Path open;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void openDirectory() throws IOException {
        open = Files.createTempDirectory(Path.of("/tmp"), "pmigd-daemontest-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        try (Stream<Path> files = Files.walk(open)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(file);
            }
        }
    }

    private Daemon start(String name, Path certs, Map<String, HostPort> peers, String... extra) {
        Properties p = TestNodes.properties(name, certs, peers, false);
        p.setProperty("control.socket", open.resolve(name + ".sock").toString());
        for (int i = 0; i < extra.length; i += 2) {
            p.setProperty(extra[i], extra[i + 1]);
        }
        Daemon daemon = Daemon.start(DaemonConfig.parse(p, "test config of " + name));
        toClose.add(daemon);
        return daemon;
    }

    @Test
    void statusShowsEachPeerAsItAnswers() {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b", "node-c");
        Path foreign = TestNodes.certificates(dir.resolve("foreign"), "node-c");
        Daemon b = start("node-b", certs, Map.of("node-a", NOWHERE));
        // node-c has a certificate of another CA
        Daemon c = start("node-c", foreign, Map.of("node-a", NOWHERE), "tls.ca", foreign.resolve("ca.pem").toString());
        Map<String, HostPort> peers = new TreeMap<>();
        peers.put("node-b", b.listening().withHost("127.0.0.1"));
        peers.put("node-c", c.listening().withHost("127.0.0.1"));
        peers.put("node-d", NOWHERE); // no daemon there
        peers.put("node-e", b.listening().withHost("127.0.0.1")); // node-b answers where node-e is expected
        Daemon a = start("node-a", certs, peers);

        JsonNode status = new ControlClient(a.config().controlSocket()).call(ControlClient.request("status"));
        assertEquals("node-a", status.get("node").asText());
        assertEquals("tls", status.get("transport").asText());
        assertEquals(a.listening().toString(), status.get("listen").asText());
        Map<String, JsonNode> byName = new TreeMap<>();
        status.get("peers").forEach(p -> byName.put(p.get("name").asText(), p));
        assertEquals(List.of("node-b", "node-c", "node-d", "node-e"), List.copyOf(byName.keySet()));

        JsonNode nodeB = byName.get("node-b");
        assertEquals("ok", nodeB.get("state").asText(), nodeB.toString());
        assertTrue(nodeB.get("authenticated").asBoolean());
        assertTrue(nodeB.get("reason").isNull());
        JsonNode nodeC = byName.get("node-c");
        assertEquals("bad-certificate", nodeC.get("state").asText(), nodeC.toString());
        assertTrue(nodeC.get("reason").asText().contains("not signed by this cluster's CA"), nodeC.toString());
        assertFalse(nodeC.get("authenticated").asBoolean());
        JsonNode nodeD = byName.get("node-d");
        assertEquals("unreachable", nodeD.get("state").asText(), nodeD.toString());
        assertTrue(nodeD.get("reason").asText().contains("node-d at 127.0.0.1:1"), nodeD.toString());
        JsonNode nodeE = byName.get("node-e");
        assertEquals("bad-certificate", nodeE.get("state").asText(), nodeE.toString());
        assertTrue(nodeE.get("reason").asText().contains("certificate of 'node-b'"), nodeE.toString());
        assertEquals(0, status.get("migrations").size());
    }

    @Test
    void aDaemonThatIsNotRunningIsNamedWithItsSocket() {
        Path socket = open.resolve("absent.sock");
        ControlClient.UnavailableException e = assertThrows(ControlClient.UnavailableException.class,
                () -> new ControlClient(socket).call(ControlClient.request("status")));
        assertTrue(e.getMessage().contains("pmigd is not running") && e.getMessage().contains(socket.toString()), e.getMessage());
    }

    @Test
    void aSecondDaemonOnTheSameSocketIsRefusedAndAStaleSocketIsReplaced() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a");
        Daemon a = start("node-a", certs, Map.of());
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> start("node-a", certs, Map.of()));
        assertTrue(twice.getMessage().contains("another pmigd already answers on " + a.config().controlSocket()), twice.getMessage());
        assertEquals("0600", mode(a.config().controlSocket()), "the control socket is root's alone by default");
        a.close();
        assertFalse(Files.exists(a.config().controlSocket()), "a daemon that stops removes its socket");

        Files.writeString(a.config().controlSocket(), "stale");
        Daemon again = start("node-a", certs, Map.of());
        assertEquals("node-a", new ControlClient(again.config().controlSocket()).call(ControlClient.request("status"))
                .get("node").asText());
    }

    @Test
    void onlyRootOrTheOwnerOfAProcessMayMigrateIt() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a");
        Daemon a = start("node-a", certs, Map.of(), "control.socket.mode", "0666");
        Path socket = a.config().controlSocket();
        Process nobodysSleep = new ProcessBuilder("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "sleep", "60").start();
        try {
            // root (this JVM) may migrate anyone's process
            JsonNode root = new ControlClient(socket).call(mayMigrate(nobodysSleep.pid()));
            assertEquals(0, root.get("callerUid").asInt());
            assertEquals(ProcessHandle.current().pid(), root.get("callerPid").asLong(), "SO_PEERCRED names this process");

            // nobody may migrate its own process ...
            JsonNode own = probeAsNobody(socket, "self");
            assertTrue(own.get("ok").asBoolean(), own.toString());
            assertEquals(NOBODY, own.get("result").get("callerUid").asInt(), "the daemon saw uid " + NOBODY + " through SO_PEERCRED");
            // ... but not root's
            long rootsProcess = ProcessHandle.current().pid();
            JsonNode refused = probeAsNobody(socket, Long.toString(rootsProcess));
            assertFalse(refused.get("ok").asBoolean(), refused.toString());
            assertTrue(refused.get("refused").asBoolean());
            assertEquals("uid " + NOBODY + " may not migrate pid " + rootsProcess + ", which runs as uid 0: only root or the"
                    + " owner of a process may migrate it", refused.get("error").asText());
        } finally {
            nobodysSleep.destroyForcibly().waitFor();
        }
        ControlClient.DaemonException absent = assertThrows(ControlClient.DaemonException.class,
                () -> new ControlClient(socket).call(mayMigrate(4_000_000)));
        assertTrue(absent.refused() && absent.getMessage().contains("there is no process 4000000"), absent.getMessage());
    }

    /** A peer whose clock is faked 3 s ahead (a test hook; the machine's clock is left alone) is refused as a destination. */
    @Test
    void aMigrationToAPeerWhoseClockDisagreesIsRefusedNamingBothClocks() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a", "node-b", "node-c");
        Daemon ahead = start("node-b", certs, Map.of("node-a", NOWHERE), "debug.clock.offset.millis", "3000");
        Daemon close = start("node-c", certs, Map.of("node-a", NOWHERE), "debug.clock.offset.millis", "-100");
        Properties p = TestNodes.properties("node-a", certs, Map.of("node-b", ahead.listening().withHost("127.0.0.1"),
                "node-c", close.listening().withHost("127.0.0.1")), false);
        p.setProperty("control.socket", open.resolve("node-a.sock").toString());
        p.setProperty("state.directory", dir.resolve("node-a-state").toString());
        p.setProperty("vip.interface", "lo");
        DaemonConfig config = DaemonConfig.parse(p, "test config of node-a");
        MigrationService migration = MigrationService.prepare(config, ServiceRegistry.open(config.stateDirectory().resolve("services")));
        toClose.add(migration);
        Daemon a = Daemon.start(config);
        toClose.add(a);
        migration.install(a);
        Process sleep = new ProcessBuilder("sleep", "60").start();
        try {
            ControlClient.DaemonException refused = assertThrows(ControlClient.DaemonException.class,
                    () -> new ControlClient(a.config().controlSocket()).call(migrate(sleep.pid(), "node-b")));
            assertTrue(refused.refused(), refused.getMessage());
            Matcher m = Pattern.compile("node-b's clock read (\\S+) when node-a's read (\\S+): (\\d+\\.\\d+) s ahead")
                    .matcher(refused.getMessage());
            assertTrue(m.find(), refused.getMessage());
            double skew = Double.parseDouble(m.group(3));
            assertTrue(skew > 2.5 && skew < 3.5, "about the 3 s faked: " + refused.getMessage());
            assertTrue(refused.getMessage().contains("limits.clock.skew.millis (500 ms)") && refused.getMessage().contains("NTP"),
                    refused.getMessage());
            assertTrue(sleep.isAlive(), "the process was left alone");

            // 100 ms apart is within the bound: the migration goes on to the next step, the VIP's, which refuses lo
            ControlClient.DaemonException later = assertThrows(ControlClient.DaemonException.class,
                    () -> new ControlClient(a.config().controlSocket()).call(migrate(sleep.pid(), "node-c")));
            assertTrue(later.getMessage().contains("interface lo") && !later.getMessage().contains("clock"), later.getMessage());
        } finally {
            sleep.destroyForcibly().waitFor();
        }
    }

    /**
     * 19,990 idle connections of another user (the probe found that many exhausted the daemon's
     * descriptors and hung pmig status): it holds at most {@value ControlServer#CONNECTIONS_PER_USER},
     * the others are refused at once, the rest closed once they sent nothing for a while, and
     * root's status answers meanwhile.
     */
    @Test
    @Timeout(300)
    void idleConnectionsOfAUserAreBoundedAndTimedOut() throws Exception {
        Path certs = TestNodes.certificates(dir.resolve("certs"), "node-a");
        Daemon a = start("node-a", certs, Map.of(), "control.socket.mode", "0666");
        Path socket = a.config().controlSocket();
        Path script = open.resolve("idle-connections.pl");
        try (InputStream in = DaemonTest.class.getResourceAsStream("/idle-connections.pl")) {
            Files.write(script, in.readAllBytes());
        }
        int wanted = 19_990;
        Process flood = new ProcessBuilder("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "perl", script.toString(), socket.toString(), Integer.toString(wanted)).redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(flood.getInputStream(), StandardCharsets.UTF_8));
            int opened = Integer.parseInt(out.readLine().strip());
            assertEquals(wanted, opened, "every connect went through (the daemon accepts, and refuses beyond the bound)");
            JsonNode status = new ControlClient(socket).call(ControlClient.request("status"));
            assertEquals("node-a", status.get("node").asText(), "root's status answers while they are open");
            String[] counts;
            do {    // until the daemon has closed every one (after ControlServer.REQUEST_WAIT)
                flood.getOutputStream().write('\n');
                flood.getOutputStream().flush();
                counts = out.readLine().strip().split(" ");
            } while (!counts[2].equals("0") && flood.isAlive());
            int refused = Integer.parseInt(counts[0]);
            int closed = Integer.parseInt(counts[1]);
            assertEquals(0, Integer.parseInt(counts[2]), "none is left open");
            assertEquals(wanted, refused + closed);
            // a slot frees as an idle connection is closed, and a later connection may take it
            assertTrue(closed >= ControlServer.CONNECTIONS_PER_USER && refused >= wanted / 2, refused + " refused at once, "
                    + closed + " closed idle");
        } finally {
            flood.destroyForcibly().waitFor();
        }
    }

    private static com.fasterxml.jackson.databind.node.ObjectNode migrate(long pid, String to) {
        return ControlClient.request("migrate").put("pid", pid).put("to", to);
    }

    private static com.fasterxml.jackson.databind.node.ObjectNode mayMigrate(long pid) {
        return ControlClient.request("may-migrate").put("pid", pid);
    }

    /** Runs ControlProbe (a test resource) as uid nobody with the JDK's source launcher; returns the daemon's answer. */
    private JsonNode probeAsNobody(Path socket, String pid) throws Exception {
        Path probe = open.resolve("ControlProbe.java");
        if (!Files.exists(probe)) {
            try (InputStream in = DaemonTest.class.getResourceAsStream("/ControlProbe.java")) {
                Files.write(probe, in.readAllBytes());
            }
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", probe.toString(), socket.toString(), pid)
                .redirectErrorStream(true).start();
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the probe finished");
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, process.exitValue(), out);
        return MAPPER.readTree(out.substring(out.indexOf(' ') + 1));
    }

    private static String mode(Path file) throws IOException {
        int bits = 0;
        for (var permission : Files.getPosixFilePermissions(file)) {
            bits |= 1 << (8 - permission.ordinal());
        }
        return String.format("%04o", bits);
    }
}
