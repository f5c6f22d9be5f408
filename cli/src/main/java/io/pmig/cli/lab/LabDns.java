package io.pmig.cli.lab;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.vip.dns.TsigKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The lab's DNS server ({@code pmig lab up --dns}): Debian's bind9 {@code named}, as root, in host
 * {@code dns} (a network namespace of its own on the bridge, host number 53 of the subnet),
 * authoritative for {@code pmig.test.} and accepting RFC 2136 updates of its A/AAAA records signed
 * with a TSIG key made for this lab. Its configuration, key, zone and journal live in the lab's
 * state directory ({@code /run/pmig-lab/dns}); it listens on its lab address and loopback only.
 * {@code lab down} kills it with everything else in the lab's namespaces and removes the directory
 * ({@link #directory}) with the state directory's other subdirectories.
 */
final class LabDns {
    static final String HOST = "dns";
    static final String ROLE = "dns";
    static final int HOST_NUMBER = 53;
    static final String ZONE = "pmig.test.";
    static final String KEY_NAME = "pmig-lab-update";
    private static final String NAMED = "named";
    private static final long START_MILLIS = 30_000;
    private static final Path APPARMOR_PROFILES = Path.of("/sys/kernel/security/apparmor/profiles");

    private final LabLayout layout;
    private final LabShell shell;

    LabDns(LabLayout layout, LabShell shell) {
        this.layout = layout;
        this.shell = shell;
    }

    Path directory() {
        return layout.stateDirectory().resolve(HOST);
    }

    /** The lab's TSIG key in bind's key-file format: named includes it, the daemons sign with it. */
    Path keyFile() {
        return directory().resolve(KEY_NAME + ".key");
    }

    Path logFile() {
        return directory().resolve("named.log");
    }

    /** Before anything is built: named is installed, and AppArmor (where it is on) lets it use the state directory. */
    static void requireNamed() {
        LabShell.requireTools(NAMED, "dig");
        try {
            if (Files.isReadable(APPARMOR_PROFILES)
                    && Files.readAllLines(APPARMOR_PROFILES).stream().anyMatch(p -> p.contains("named") && p.contains("(enforce)"))) {
                throw new RefusedException("AppArmor enforces its profile for named, which forbids the lab's directory /run/...:"
                        + " run aa-complain /usr/sbin/named (apparmor-utils) for the lab, then pmig lab up --dns again");
            }
        } catch (IOException e) {
            throw new FailedException("cannot read " + APPARMOR_PROFILES + ": " + e, e);
        }
    }

    /** Writes a new key, the configuration and the zone, starts named in the dns host and waits until it answers. */
    void start(LabState.Host dns) {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        TsigKey key = new TsigKey(KEY_NAME, TsigKey.DEFAULT_ALGORITHM, Base64.getEncoder().encodeToString(secret));
        Path conf = directory().resolve("named.conf");
        try {
            Files.createDirectories(directory());
            Files.deleteIfExists(logFile());
            write(keyFile(), key.keyFileText());
            write(conf, namedConf(dns));
            write(directory().resolve(zoneFileName()), zoneFile(dns));
        } catch (IOException e) {
            throw new FailedException("cannot write the lab's DNS configuration in " + directory() + ": " + e, e);
        }
        // -g: in the foreground (setsid forks it off), logging to stderr, which goes to named.log
        shell.runDetached(List.of("ip", "netns", "exec", dns.netns(), "setsid", "--fork", NAMED, "-g", "-4", "-c", conf.toString()),
                logFile());
        awaitAnswering(dns);
    }

    /**
     * Makes {@code host} resolve names through the lab's server, the zone searched first: a resolv.conf that
     * {@code ip netns exec} (which {@code lab exec} uses for a host without a node's init) puts over /etc/resolv.conf.
     */
    void serveResolver(LabState.Host host, LabState.Host dns) {
        Path etc = LabLayout.netnsEtc(host.netns());
        try {
            Files.createDirectories(etc);
            write(etc.resolve("resolv.conf"), "# the DNS server of lab " + layout.name() + ", written by pmig lab up --dns\n"
                    + "nameserver " + dns.address() + "\nsearch " + ZONE.substring(0, ZONE.length() - 1) + "\n");
        } catch (IOException e) {
            throw new FailedException("cannot write the resolver configuration of host " + host.name() + " in " + etc + ": " + e, e);
        }
    }

    /** The pmigd.conf lines that let a node register names in the lab's zone. */
    String daemonConfig(LabState.Host dns) {
        return "dns.server = " + dns.address() + "\n"
                + "dns.zone = " + ZONE + "\n"
                + "dns.tsig.keyfile = " + keyFile() + "\n";
    }

    /** The host PID of the lab's named, if it runs. */
    Optional<Long> pid(LabState.Host dns) {
        if (!Files.exists(LabLayout.netnsFile(dns.netns()))) {
            return Optional.empty();
        }
        LabShell.Result pids = shell.attempt("ip", "netns", "pids", dns.netns());
        if (!pids.ok()) {
            return Optional.empty();
        }
        return Stream.of(pids.out().split("\\s+")).filter(p -> !p.isEmpty()).map(Long::parseLong)
                .filter(p -> LabProcs.comm(p).equals(Optional.of(NAMED))).findFirst();
    }

    private String zoneFileName() {
        return ZONE + "zone";
    }

    private String namedConf(LabState.Host dns) {
        String dir = directory().toString();
        return "// the DNS server of lab " + layout.name() + ", written by pmig lab up --dns\n"
                + "options {\n"
                + "\tdirectory \"" + dir + "\";\n"
                + "\tpid-file \"" + dir + "/named.pid\";\n"
                + "\tsession-keyfile \"" + dir + "/session.key\";\n"
                + "\tmanaged-keys-directory \"" + dir + "\";\n"
                + "\tlisten-on port 53 { " + dns.address() + "; 127.0.0.1; };\n"
                + "\tlisten-on-v6 { none; };\n"
                + "\trecursion no;\n"
                + "\tdnssec-validation no;\n"
                + "\tnotify no;\n"
                + "};\n"
                + "controls { };\n"
                + "include \"" + keyFile() + "\";\n"
                + "zone \"" + ZONE + "\" {\n"
                + "\ttype primary;\n"
                + "\tfile \"" + zoneFileName() + "\";\n"
                + "\tupdate-policy { grant " + KEY_NAME + " zonesub A AAAA; };\n"
                + "};\n";
    }

    private static String zoneFile(LabState.Host dns) {
        return "$TTL 60\n"
                + "@\tIN\tSOA\t" + HOST + "." + ZONE + " hostmaster." + ZONE + " 1 60 60 600 60\n"
                + "@\tIN\tNS\t" + HOST + "." + ZONE + "\n"
                + HOST + "\tIN\tA\t" + dns.address() + "\n";
    }

    private static void write(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.UTF_8);
    }

    /** Asks the server for its zone's SOA from inside its namespace until it answers. */
    private void awaitAnswering(LabState.Host dns) {
        long started = System.currentTimeMillis();
        while (true) {
            LabShell.Result soa = shell.attempt("ip", "netns", "exec", dns.netns(), "dig", "+short", "+time=1", "+tries=1",
                    "@" + dns.address(), ZONE, "SOA");
            if (soa.ok() && !soa.out().isBlank()) {
                return;
            }
            long waited = System.currentTimeMillis() - started;
            if (waited > START_MILLIS || (waited > 2_000 && pid(dns).isEmpty())) {
                throw new FailedException("the lab's DNS server (named in " + dns.netns() + ") did not answer for " + ZONE
                        + " on " + dns.address() + ": " + LabShell.tail(logFile()));
            }
            LabProcs.sleep(50);
        }
    }
}
