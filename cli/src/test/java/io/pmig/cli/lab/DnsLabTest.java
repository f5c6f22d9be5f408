package io.pmig.cli.lab;

import static io.pmig.cli.lab.LabTestSupport.exec;
import static io.pmig.cli.lab.LabTestSupport.pmig;
import static io.pmig.cli.lab.LabTestSupport.pmigIn;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.pmig.cli.ExitCodes;
import io.pmig.cli.lab.LabTestSupport.Run;
import io.pmig.daemon.config.DaemonConfig;
import io.pmig.vip.dns.DnsException;
import io.pmig.vip.dns.DnsSettings;
import io.pmig.vip.dns.ServiceDns;
import io.pmig.vip.dns.TsigKey;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * {@code pmig lab up --dns}: Debian's bind9 in lab host dns, the daemons configured for it, and a
 * node's {@link ServiceDns} (built from its pmigd.conf, run in the node's network namespace as its
 * daemon runs it) registering and removing a name that the client resolves with dig through that
 * server; a wrong TSIG key is reported by name and changes nothing.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DnsLabTest {
    private static String server;

    @BeforeAll
    static void labWithDns() {
        assumeTrue(LabCommandTest.isRoot(), "the lab needs root");
        assumeTrue(LabShell.which("named") != null && LabShell.which("dig") != null, "bind9 and dig: run scripts/install-deps");
        LabTestSupport.removeLab();
        Run up = pmig("lab", "up", "--dns", "--json");
        assertEquals(ExitCodes.OK, up.exitCode(), up.toString());
        for (JsonNode host : up.json().get("hosts")) {
            if (host.get("role").asText().equals(LabDns.ROLE)) {
                server = host.get("address").asText();
                assertTrue(host.get("named").get("running").asBoolean(), up.out());
            }
        }
        assertEquals(LabDns.HOST_NUMBER, Integer.parseInt(server.substring(server.lastIndexOf('.') + 1)), up.out());
    }

    @AfterAll
    static void removeLab() {
        LabTestSupport.removeLab();
    }

    /** The node's DNS registration as its daemon has it: from the pmigd.conf lab up wrote. */
    private static DnsSettings nodeSettings() {
        return DaemonConfig.load(new LabDaemons(new LabLayout(LabTestSupport.LAB), new LabShell()).configFile("node-a")).dns()
                .orElseThrow(() -> new AssertionError("node-a's pmigd.conf has no dns.* keys"));
    }

    private static String dig(String name, String type) {
        return exec("client", "dig", "+time=2", "+tries=3", "@" + server, name, type);
    }

    private static String digShort(String name, String type) {
        return exec("client", "dig", "+short", "+time=2", "+tries=3", "@" + server, name, type).strip();
    }

    @Test
    @Order(1)
    @Timeout(120)
    void aNameResolvesFromTheClientToItsVipsAndIsGoneAfterRemoval() throws Exception {
        Run status = pmigIn("node-a", "status", "--json");
        assertEquals(ExitCodes.OK, status.exitCode(), status.toString());
        JsonNode daemonDns = status.json().get("dns");
        assertEquals("ok", daemonDns.get("state").asText(), status.out());
        assertEquals(server + ":53", daemonDns.get("server").asText());
        assertEquals(LabDns.ZONE, daemonDns.get("zone").asText());
        assertEquals(LabDns.KEY_NAME, daemonDns.get("key").asText());

        ServiceDns dns = new ServiceDns(nodeSettings());
        try (InNamespace nodeA = new InNamespace("node-a")) {
            nodeA.call(() -> {
                dns.check();
                dns.register("web.pmig.test", List.of(InetAddress.getByName("10.77.0.50")));
                return null;
            });
            assertEquals("10.77.0.50", digShort("web.pmig.test", "A"));
            assertTrue(dig("web.pmig.test", "A").contains("web.pmig.test.\t\t60\tIN\tA\t10.77.0.50"), "the configured TTL");

            // registering again replaces the whole set: one IPv4 and one IPv6 VIP
            nodeA.call(() -> {
                dns.register("web.pmig.test.", List.of(InetAddress.getByName("10.77.0.51"), InetAddress.getByName("fd77::51")));
                return null;
            });
            assertEquals("10.77.0.51", digShort("web.pmig.test", "A"));
            assertEquals("fd77::51", digShort("web.pmig.test", "AAAA"));
            assertEquals(List.of(InetAddress.getByName("10.77.0.51"), InetAddress.getByName("fd77::51")),
                    nodeA.call(() -> dns.addresses("web.pmig.test")));

            nodeA.call(() -> {
                dns.remove("web.pmig.test");
                return null;
            });
            assertTrue(dig("web.pmig.test", "A").contains("status: NXDOMAIN"), "no record is left");
            nodeA.call(() -> {
                dns.remove("web.pmig.test");
                return null;
            }); // removing a name that is not there is no error
        }
    }

    /**
     * A service added with a DNS name is published on its VIP: the client reaches it by name (through the lab's resolver,
     * every byte checked) while it moves to node-b; the record stays, since the VIP moved with it; removed, the record
     * goes and the process runs on; added again and stopped, its process, VIP and record are gone. A DNS name with no VIP to name is refused, naming the remedy.
     */
    @Test
    @Order(2)
    @Timeout(180)
    void aServiceIsReachedByItsNameBeforeAndAfterItMoves() throws Exception {
        String pid = StreamService.startOnNodeA("64");
        Run add = pmigIn("node-a", "service", "add", "web", "--pid", pid, "--vip", StreamService.VIP + "/24", "--dns", "web.pmig.test");
        assertEquals(ExitCodes.OK, add.exitCode(), add.toString());
        assertEquals(StreamService.VIP, digShort("web.pmig.test", "A"));
        assertEquals(ExitCodes.NOT_HERE, pmigIn("node-b", "service", "status", "web").exitCode());

        StreamClient client = StreamService.clientOf("web");    // the resolver's search domain: pmig.test
        Run there = pmigIn("node-a", "migrate", "web", "--to", "node-b", "--json");
        assertEquals(ExitCodes.OK, there.exitCode(), there.toString());
        assertEquals(ExitCodes.OK, pmigIn("node-b", "service", "status", "web").exitCode(), "web runs on node-b");
        assertEquals(ExitCodes.NOT_HERE, pmigIn("node-a", "service", "status", "web").exitCode(), "and not on node-a");
        assertEquals(StreamService.VIP, digShort("web.pmig.test", "A"), "the record stays: the VIP moved with the service");
        String verdict = client.verdict();
        assertTrue(verdict.startsWith("PASS"), "the client by name kept every byte across the move: " + verdict);
        String fresh = StreamService.clientOf("web.pmig.test").verdict();
        assertTrue(fresh.startsWith("PASS"), "a new client by name reaches it on node-b: " + fresh);

        Run remove = pmigIn("node-b", "service", "remove", "web");
        assertEquals(ExitCodes.OK, remove.exitCode(), remove.toString());
        assertEquals("", digShort("web.pmig.test", "A"), "the record went with the entry");
        String restored = there.json().path("restoredPid").asText();
        assertEquals("stream-server", exec("node-b", "cat", "/proc/" + restored + "/comm").strip(), "the process runs on");
        Run again = pmigIn("node-b", "service", "add", "web", "--pid", restored, "--vip", StreamService.VIP + "/24", "--dns",
            "web.pmig.test");
        assertEquals(ExitCodes.OK, again.exitCode(), again.toString());
        assertEquals(StreamService.VIP, digShort("web.pmig.test", "A"), "published again");

        Run stop = pmigIn("node-b", "service", "stop", "web", "--timeout", "5", "--json");
        assertEquals(ExitCodes.OK, stop.exitCode(), stop.toString());
        assertEquals("", digShort("web.pmig.test", "A"), "the record is withdrawn");
        assertEquals(ExitCodes.NOT_HERE, pmigIn("node-b", "service", "status", "web").exitCode());
        assertEquals("", exec("node-b", "sh", "-c", "pgrep -x stream-server || true").strip(), "its process ended");
        assertFalse(exec("node-b", "ip", "-o", "addr", "show", "dev", "eth0").contains(StreamService.VIP + "/"), "its VIP left node-b");

        String sleeper = exec("node-b", "sh", "-c", "sleep 300 </dev/null >/dev/null 2>&1 & echo $!").strip();
        Run noVip = pmigIn("node-b", "service", "add", "lonely", "--pid", sleeper, "--dns", "lonely.pmig.test");
        exec("node-b", "kill", sleeper);
        assertEquals(ExitCodes.REFUSED, noVip.exitCode(), noVip.toString());
        assertTrue(noVip.err().contains("no VIP for it to name: give the service its VIP with --vip"), noVip.err());
        assertEquals("", digShort("lonely.pmig.test", "A"));
        assertEquals(ExitCodes.NOT_HERE, pmigIn("node-b", "service", "status", "lonely").exitCode(), "nothing was registered");
    }

    @Test
    @Order(3)
    @Timeout(120)
    void aWrongTsigKeyIsReportedByNameAndChangesNothing() throws Exception {
        DnsSettings right = nodeSettings();
        byte[] otherSecret = new byte[32];
        String wrongSecret = Base64.getEncoder().encodeToString(otherSecret);
        DnsSettings badSecret = withKey(right, new TsigKey(right.key().name(), right.key().algorithm(), wrongSecret));
        DnsSettings unknownKey = withKey(right, new TsigKey("no-such-key", right.key().algorithm(), right.key().secret()));
        try (InNamespace nodeA = new InNamespace("node-a")) {
            DnsException badSig = assertThrows(DnsException.class, () -> nodeA.call(() -> {
                new ServiceDns(badSecret).register("db.pmig.test", List.of(InetAddress.getByName("10.77.0.52")));
                return null;
            }));
            String message = badSig.getMessage();
            assertTrue(message.startsWith("DNS: cannot register db.pmig.test. (A 10.77.0.52, TTL 60 s) in zone pmig.test. on "
                    + server + ":53: the server rejected TSIG key " + LabDns.KEY_NAME + " (hmac-sha256): TSIG error BADSIG, rcode NOTAUTH; its"
                    + " key of that name has another secret: configure the server's secret for it (pmigd.conf: dns.tsig.secret or"
                    + " dns.tsig.keyfile)"), message);
            assertFalse(message.contains(wrongSecret) || message.contains(right.key().secret()), "never a secret: " + message);

            DnsException badKey = assertThrows(DnsException.class, () -> nodeA.call(() -> {
                new ServiceDns(unknownKey).check();
                return null;
            }));
            assertTrue(badKey.getMessage().startsWith("DNS: cannot use zone pmig.test. on " + server + ":53: the server rejected TSIG key no-such-key"
                    + " (hmac-sha256): TSIG error BADKEY"), badKey.getMessage());
            assertTrue(badKey.getMessage().contains("add the key to its named.conf"), badKey.getMessage());
        }
        assertTrue(dig("db.pmig.test", "A").contains("status: NXDOMAIN"), "the refused update changed nothing");
        String log = Files.readString(new LabDns(new LabLayout(LabTestSupport.LAB), new LabShell()).logFile());
        assertTrue(log.contains("no-such-key"), "named logged the unknown key: " + log);
    }

    @Test
    @Order(4)
    @Timeout(120)
    void aDaemonWithAWrongSecretSaysSoInItsStatus() throws Exception {
        LabLayout layout = new LabLayout(LabTestSupport.LAB);
        LabDaemons daemons = new LabDaemons(layout, new LabShell());
        LabState.Host nodeB = new Lab(layout, new LabShell()).state().orElseThrow().host("node-b").orElseThrow();
        Path conf = daemons.configFile("node-b");
        String wrongSecret = Base64.getEncoder().encodeToString(new byte[32]);
        Files.writeString(conf, Files.readString(conf).replaceAll("dns.tsig.keyfile = .*\n",
                "dns.tsig.name = " + LabDns.KEY_NAME + "\ndns.tsig.secret = " + wrongSecret + "\n"));
        long pid = daemons.pid(nodeB).orElseThrow();
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        assertTrue(LabProcs.awaitGone(List.of(pid), 30_000).isEmpty(), "node-b's pmigd stops on SIGTERM");
        daemons.restart(nodeB);

        Run status = pmigIn("node-b", "status");
        assertEquals(ExitCodes.OK, status.exitCode(), status.toString());
        assertTrue(status.out().contains("dns: zone pmig.test. on " + server + ":53, TSIG key " + LabDns.KEY_NAME + ": ERROR: DNS:"
                + " cannot use zone pmig.test. on " + server + ":53: the server rejected TSIG key " + LabDns.KEY_NAME
                + " (hmac-sha256): TSIG error BADSIG, rcode NOTAUTH; its key of that name has another secret: configure the"
                + " server's secret for it (pmigd.conf: dns.tsig.secret or dns.tsig.keyfile)\n"), status.out());
        assertFalse(status.out().contains(wrongSecret), status.out());

        Run check = LabTestSupport.inHost("node-b", List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.pmig.daemon.Pmigd", "--check", "--config", conf.toString()));
        assertEquals(1, check.exitCode(), check.toString());
        assertTrue(check.err().startsWith("pmigd: DNS: cannot use zone pmig.test. on " + server + ":53: the server rejected TSIG key "
                + LabDns.KEY_NAME + " (hmac-sha256): TSIG error BADSIG"), check.err());
        Run good = LabTestSupport.inHost("node-a", List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.pmig.daemon.Pmigd", "--check", "--config",
                daemons.configFile("node-a").toString()));
        assertEquals(0, good.exitCode(), good.toString());
        assertTrue(good.out().strip().endsWith(", DNS zone pmig.test. on " + server + ":53 with TSIG key " + LabDns.KEY_NAME
                + " (hmac-sha256): ok"), good.out());
        assertFalse((status.out() + status.err()).contains("Exception") || Files.readString(daemons.logFile("node-b")).contains("\tat "),
                "no stack trace: " + status);
    }

    @Test
    @Order(5)
    @Timeout(120)
    void labDownStopsNamedAndRemovesItsFiles() {
        LabDns labDns = new LabDns(new LabLayout(LabTestSupport.LAB), new LabShell());
        Path directory = labDns.directory();
        assertTrue(Files.exists(labDns.keyFile()), directory + " holds the lab's key");
        Run down = pmig("lab", "down");
        assertEquals(ExitCodes.OK, down.exitCode(), down.toString());
        assertTrue(LabTestSupport.sh("pgrep -f '[n]amed -g -4 -c " + directory + "/' || true").isBlank(), "named is stopped");
        assertFalse(Files.exists(directory), directory + " is removed");
    }

    private static DnsSettings withKey(DnsSettings settings, TsigKey key) {
        return new DnsSettings(settings.server(), settings.port(), settings.zone(), settings.ttl(), key, settings.timeout());
    }
}
