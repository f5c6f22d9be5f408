package io.pmig.daemon.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import io.pmig.vip.dns.DnsSettings;
import io.pmig.vip.dns.TsigKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DaemonConfigTest {
    @TempDir
    Path dir;

    private DaemonConfig load(String... lines) throws IOException {
        Path file = dir.resolve("pmigd.conf");
        Files.write(file, List.of(lines));
        return DaemonConfig.load(file);
    }

    private String error(String... lines) {
        return assertThrows(ConfigException.class, () -> load(lines)).getMessage();
    }

    @Test
    void onlyTheNodeNameIsRequiredAndEverythingElseHasADefault() throws IOException {
        DaemonConfig config = load("node.name = node-a");
        assertEquals("node-a", config.nodeName());
        assertEquals(new HostPort("0.0.0.0", DaemonConfig.DEFAULT_PORT), config.listen());
        assertTrue(config.peers().isEmpty());
        assertEquals("eth0", config.vipInterface());
        assertEquals(Path.of("/etc/pmig/tls/ca.pem"), config.tlsCa());
        assertEquals(Path.of("/etc/pmig/tls/node-a.pem"), config.tlsCert());
        assertEquals(Path.of("/etc/pmig/tls/node-a.key"), config.tlsKey());
        assertFalse(config.plaintext(), "TLS unless plaintext is set explicitly");
        assertEquals(Path.of("/run/pmig/pmigd.sock"), config.controlSocket());
        assertEquals(0600, config.controlSocketMode());
        assertEquals(Path.of("/var/lib/pmig"), config.stateDirectory(), "the journal outlives a restart (systemd's StateDirectory)");
        assertEquals(Limits.DEFAULT, config.limits());
    }

    @Test
    void everyKeyIsRead() throws IOException {
        DaemonConfig config = load(
                "# a comment",
                "node.name=node-b",
                "listen = 10.77.0.12:7701",
                "peer.node-a = 10.77.0.11:7701",
                "peer.node-c = 10.77.0.13",
                "peer.node-d = [fd00::4]:7702",
                "vip.interface = br0",
                "tls.ca = /srv/tls/ca.pem",
                "tls.cert = /srv/tls/b.pem",
                "tls.key = /srv/tls/b.key",
                "plaintext = true",
                "control.socket = /run/pmig-lab/node-b.sock",
                "control.socket.mode = 0660",
                "limits.max.message.bytes = 1048576",
                "limits.stream.window.bytes = 4194304",
                "limits.connect.timeout.millis = 1000",
                "limits.request.timeout.millis = 9000",
                "limits.handler.threads = 3",
                "limits.migrations = 2",
                "limits.peer.silence.millis = 2000",
                "limits.outcome.wait.millis = 7000",
                "limits.memory.reserve.bytes = 0",
                "limits.clock.skew.millis = 250",
                "limits.listener.drain.millis = 900");
        assertEquals(new HostPort("10.77.0.12", 7701), config.listen());
        assertEquals(Map.of("node-a", new HostPort("10.77.0.11", 7701), "node-c", new HostPort("10.77.0.13", 7700),
                "node-d", new HostPort("fd00::4", 7702)), config.peers());
        assertEquals("[fd00::4]:7702", config.peers().get("node-d").toString());
        assertEquals("br0", config.vipInterface());
        assertEquals(Path.of("/srv/tls/b.key"), config.tlsKey());
        assertTrue(config.plaintext());
        assertEquals(Path.of("/run/pmig-lab/node-b.sock"), config.controlSocket());
        assertEquals(0660, config.controlSocketMode());
        assertEquals(new Limits(1048576, 4194304, 1000, 9000, 3, 2, 2_000, 7_000, 0, 250, 900), config.limits());
    }

    @Test
    void vipAndPrecopySettingsHaveDefaultsAndAreRead() throws IOException {
        DaemonConfig defaults = load("node.name = node-a");
        assertEquals(io.pmig.vip.VipSettings.DEFAULT.announcements(), defaults.vip().announcements());
        assertEquals(io.pmig.checkpoint.PrecopyOptions.defaults(), defaults.precopy());
        DaemonConfig config = load("node.name = node-a", "vip.announce.count = 3", "vip.announce.interval.millis = 50",
                "vip.announce.mode = request", "vip.hold.max.packets = 10", "vip.hold.max.bytes = 4096",
                "precopy.stop.below.pages = 64", "precopy.max.rounds = 4");
        assertEquals(3, config.vip().announcements());
        assertEquals(java.time.Duration.ofMillis(50), config.vip().announceInterval());
        assertEquals(io.pmig.vip.neighbour.Announcer.Mode.REQUEST, config.vip().announceMode());
        assertEquals(new io.pmig.vip.hold.HoldLimits(10, 4096), config.vip().holdLimits());
        assertEquals(new io.pmig.checkpoint.PrecopyOptions(64, 4), config.precopy());
        String mode = error("node.name = node-a", "vip.announce.mode = loud");
        assertTrue(mode.contains("key vip.announce.mode = 'loud'") && mode.contains("request, reply or both"), mode);
    }

    @Test
    void theMigrationBandwidthIsUnlimitedUnlessSet() throws IOException {
        assertEquals(Bandwidth.UNLIMITED, load("node.name = node-a").migrationBandwidth());
        assertEquals(Bandwidth.megabytesPerSecond(12.5),
                load("node.name = node-a", "migration.bandwidth.megabytes.per.second = 12.5").migrationBandwidth());
        String negative = error("node.name = node-a", "migration.bandwidth.megabytes.per.second = -3");
        assertTrue(negative.contains("key migration.bandwidth.megabytes.per.second = '-3': a bandwidth limit of -3.0 MB/s"
                + " is not possible: it must be 0 (no limit) or at least 1 MB/s"), negative);
        String unit = error("node.name = node-a", "migration.bandwidth.megabytes.per.second = 100Mbit");
        assertTrue(unit.contains("key migration.bandwidth.megabytes.per.second = '100Mbit': it must be a number"), unit);
    }

    @Test
    void theEngineWarmsUpWithTwoHundredMovesUnlessSetAndMakesAtLeastOne() throws IOException {
        assertEquals(200, load("node.name = node-a").warmUpMoves());
        assertEquals(1, load("node.name = node-a", "engine.warm-up.moves = 1").warmUpMoves());
        String none = error("node.name = node-a", "engine.warm-up.moves = 0");
        assertTrue(none.contains("key engine.warm-up.moves = '0'"), none);
    }

    @Test
    void errorsNameTheFileAndTheKey() {
        String file = dir.resolve("pmigd.conf").toString();
        String missing = error("listen = 1.2.3.4:5");
        assertTrue(missing.startsWith(file + ": key node.name is missing"), missing);

        String typo = error("node.name = node-a", "peers.node-b = 1.2.3.4");
        assertTrue(typo.contains(file + ": unknown key peers.node-b"), typo);

        String port = error("node.name = node-a", "listen = 0.0.0.0:http");
        assertTrue(port.contains("key listen = '0.0.0.0:http'") && port.contains("not a number"), port);

        String plaintext = error("node.name = node-a", "plaintext = yes");
        assertTrue(plaintext.contains("key plaintext = 'yes': it must be true or false"), plaintext);

        String limit = error("node.name = node-a", "limits.handler.threads = 0");
        assertTrue(limit.contains("key limits.handler.threads = '0': it must be a positive whole number"), limit);

        String notNumber = error("node.name = node-a", "limits.migrations = many");
        assertTrue(notNumber.contains("key limits.migrations = 'many': it must be a number"), notNumber);

        String reserve = error("node.name = node-a", "limits.memory.reserve.bytes = -1");
        assertTrue(reserve.contains("key limits.memory.reserve.bytes = '-1': it must be 0 or more"), reserve);

        String name = error("node.name = Node_A");
        assertTrue(name.contains("key node.name = 'Node_A'"), name);

        String self = error("node.name = node-a", "peer.node-a = 1.2.3.4");
        assertTrue(self.contains("key peer.node-a: a node is not its own peer"), self);

        String relative = error("node.name = node-a", "tls.ca = tls/ca.pem");
        assertTrue(relative.contains("key tls.ca = 'tls/ca.pem': it must be an absolute path"), relative);

        String ipv6 = error("node.name = node-a", "peer.node-b = fd00::4:7700");
        assertTrue(ipv6.contains("key peer.node-b") && ipv6.contains("[ADDRESS]:PORT"), ipv6);

        String mode = error("node.name = node-a", "control.socket.mode = 0999");
        assertTrue(mode.contains("key control.socket.mode = '0999'"), mode);
    }

    @Test
    void aMissingFileSaysHowToProceed() {
        Path absent = dir.resolve("absent.conf");
        String message = assertThrows(ConfigException.class, () -> DaemonConfig.load(absent)).getMessage();
        assertTrue(message.contains(absent + " does not exist") && message.contains("--config"), message);
    }

    @Test
    void anUnknownPeerIsRefusedWithTheKeyToAdd() throws IOException {
        DaemonConfig config = load("node.name = node-a", "peer.node-b = 10.0.0.2");
        assertEquals(new HostPort("10.0.0.2", 7700), config.peer("node-b"));
        String message = assertThrows(ConfigException.class, () -> config.peer("node-z")).getMessage();
        assertTrue(message.contains("node-z is not a peer of node-a") && message.contains("peer.node-z"), message);
    }

    @Test
    void withoutDnsServerThereIsNoDnsRegistration() throws IOException {
        assertTrue(load("node.name = node-a").dns().isEmpty());
    }

    @Test
    void dnsKeysAreReadWithTheKeyGivenInlineOrAsBindKeyFile() throws IOException {
        String secret = "c2VjcmV0LW9mLTMyLWJ5dGVzLWZvci1obWFjLXNoYTI=";
        DnsSettings inline = load("node.name = node-a", "dns.server = 10.77.0.53", "dns.zone = pmig.test",
                "dns.tsig.name = pmig-update", "dns.tsig.secret = " + secret).dns().orElseThrow();
        assertEquals("10.77.0.53:53", inline.serverAddress());
        assertEquals("pmig.test.", inline.zone());
        assertEquals(Duration.ofSeconds(60), inline.ttl());
        assertEquals(Duration.ofSeconds(5), inline.timeout());
        assertEquals(new TsigKey("pmig-update", "hmac-sha256", secret), inline.key());

        Path keyFile = dir.resolve("pmig-update.key");
        Files.writeString(keyFile, "# made by tsig-keygen\nkey \"pmig-update\" {\n\talgorithm hmac-sha512;\n\tsecret \"" + secret + "\";\n};\n");
        DnsSettings fromFile = load("node.name = node-a", "dns.server = [fd77::53]:5353", "dns.zone = example.com.",
                "dns.tsig.keyfile = " + keyFile, "dns.ttl = 30", "dns.timeout.millis = 2000").dns().orElseThrow();
        assertEquals("[fd77::53]:5353", fromFile.serverAddress());
        assertEquals(new TsigKey("pmig-update", "hmac-sha512", secret), fromFile.key());
        assertEquals(Duration.ofSeconds(30), fromFile.ttl());
        assertEquals(Duration.ofSeconds(2), fromFile.timeout());
    }

    @Test
    void dnsErrorsNameTheKeyAndTheRemedyAndNeverTheSecret() throws IOException {
        String secret = "c2VjcmV0LW9mLTMyLWJ5dGVzLWZvci1obWFjLXNoYTI=";
        String conf = dir.resolve("pmigd.conf").toString();
        assertEquals(conf + ": key dns.zone without dns.server: set dns.server (the zone's primary) to register services' names,"
                + " or remove them", error("node.name = node-a", "dns.zone = pmig.test"));
        assertEquals(conf + ": key dns.zone is missing; it is required (the zone the names live in (e.g. example.com); required"
                + " with dns.server)", error("node.name = node-a", "dns.server = 10.77.0.53"));
        assertTrue(error("node.name = node-a", "dns.server = 10.77.0.53", "dns.zone = pmig.test")
                .startsWith(conf + ": dns.server is set but no TSIG key: set dns.tsig.name and dns.tsig.secret"));
        String badAlgorithm = error("node.name = node-a", "dns.server = 10.77.0.53", "dns.zone = pmig.test",
                "dns.tsig.name = k", "dns.tsig.algorithm = hmac-sha3", "dns.tsig.secret = " + secret);
        assertEquals(conf + ": keys dns.tsig.*: TSIG algorithm 'hmac-sha3' is not one of hmac-sha256, hmac-sha512, hmac-sha384,"
                + " hmac-sha224, hmac-sha1, hmac-md5", badAlgorithm);
        String notBase64 = error("node.name = node-a", "dns.server = 10.77.0.53", "dns.zone = pmig.test",
                "dns.tsig.name = k", "dns.tsig.secret = not*base64");
        assertTrue(notBase64.startsWith(conf + ": keys dns.tsig.*: the secret of TSIG key k is not base64"), notBase64);
        assertFalse(notBase64.contains("not*base64"), "the secret is never shown: " + notBase64);
        assertTrue(error("node.name = node-a", "dns.server = 10.77.0.53", "dns.zone = pmig.test", "dns.tsig.keyfile = /nonexistent/k.key",
                "dns.tsig.name = k").contains("dns.tsig.keyfile and dns.tsig.name are both set"));
        assertTrue(error("node.name = node-a", "dns.server = 10.77.0.53", "dns.zone = pmig.test", "dns.tsig.keyfile = /nonexistent/k.key")
                .startsWith(conf + ": key dns.tsig.keyfile = '/nonexistent/k.key': cannot read the TSIG key file /nonexistent/k.key"));
        assertTrue(error("node.name = node-a", "dns.server = 10.77.0.53:99999", "dns.zone = pmig.test", "dns.tsig.name = k",
                "dns.tsig.secret = " + secret).startsWith(conf + ": key dns.server = '10.77.0.53:99999': "));
        assertTrue(error("node.name = node-a", "dns.server = 10.77.0.53", "dns.zone = pmig..test", "dns.tsig.name = k",
                "dns.tsig.secret = " + secret).startsWith(conf + ": key dns.zone = 'pmig..test': 'pmig..test.' is not a zone name"));
        assertTrue(error("node.name = node-a", "dns.server = 10.77.0.53", "dns.zone = pmig.test", "dns.tsig.name = k",
                "dns.tsig.secret = " + secret, "dns.ttl = -1").startsWith(conf + ": key dns.ttl = '-1': it must be 0 or more seconds"));
    }
}
