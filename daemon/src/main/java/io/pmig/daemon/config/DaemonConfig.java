package io.pmig.daemon.config;

import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.vip.VipSettings;
import io.pmig.vip.dns.DnsSettings;
import io.pmig.vip.dns.TsigKey;
import io.pmig.vip.hold.HoldLimits;
import io.pmig.vip.neighbour.Announcer;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The configuration of one pmigd, read from a Java properties file ({@code /etc/pmig/pmigd.conf}).
 * Only {@code node.name} is required; every other key has a default ({@link #KEYS} lists them,
 * README.md documents them). A key the daemon does not know is an error, so a typo never passes
 * silently; every error names the file and the key.
 *
 * @param source where the configuration came from, for messages
 * @param peers peer name to its address, in the file's order of names (sorted)
 * @param tlsCa the cluster CA certificate (PEM) that every peer certificate must be signed by
 * @param tlsCert this node's certificate (PEM), whose name must be {@code nodeName}
 * @param tlsKey this node's private key (PEM, PKCS#8)
 * @param plaintext peers talk without TLS: no authentication, no encryption (only when explicitly set)
 * @param controlSocket the Unix socket the local {@code pmig} talks to
 * @param controlSocketMode the permission bits of the control socket (default 0600: root only)
 * @param stateDirectory what must outlive a restart of the daemon: the migration journal ({@code migrations/})
 * @param vip how VIPs move: announcement rounds after a move, what a hold may keep
 * @param precopy when a staged migration stops its rounds (the command may say otherwise)
 * @param migrationBandwidth the rate a migration's image stream may use (the command may say otherwise)
 * @param pause for fault tests: a migration step where this daemon pauses (normally none)
 * @param clock the realtime clock this node tells its peers (the system's; shifted only by a test's
 *     {@code debug.clock.offset.millis})
 * @param dns where and how services' names are registered in DNS (RFC 2136 with TSIG); empty without {@code dns.server}
 * @param warmUpMoves how many throw-away moves the engine's warm-up makes while the daemon is idle (at least the first)
 */
public record DaemonConfig(String source, String nodeName, HostPort listen, Map<String, HostPort> peers,
        String vipInterface, Path tlsCa, Path tlsCert, Path tlsKey, boolean plaintext, Path controlSocket,
        int controlSocketMode, Path stateDirectory, Limits limits, VipSettings vip, PrecopyOptions precopy, Bandwidth migrationBandwidth,
        FaultPause pause, Clock clock, Optional<DnsSettings> dns, int warmUpMoves) {

    public static final Path DEFAULT_FILE = Path.of("/etc/pmig/pmigd.conf");
    public static final Path DEFAULT_TLS_DIRECTORY = Path.of("/etc/pmig/tls");
    public static final Path DEFAULT_CONTROL_SOCKET = Path.of("/run/pmig/pmigd.sock");
    /** systemd's StateDirectory=pmig: kept across restarts, where RuntimeDirectory= (/run/pmig) is emptied at each stop. */
    public static final Path DEFAULT_STATE_DIRECTORY = Path.of("/var/lib/pmig");
    public static final int DEFAULT_PORT = 7700;
    public static final String PEER_PREFIX = "peer.";
    /** Enough for a migration's once-per-move code to be compiled (the JVM's first tier compiles after 200 calls). */
    public static final int DEFAULT_WARM_UP_MOVES = 200;

    /** Node names are DNS labels: they are the names in the node certificates. */
    private static final Pattern NODE_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    /** Every key besides peer.NAME, with its default ("" = none) and what it means. */
    public static final Map<String, String[]> KEYS = keys();

    private static Map<String, String[]> keys() {
        Map<String, String[]> keys = new LinkedHashMap<>();
        keys.put("node.name", new String[] {"", "this node's name (a DNS label, e.g. node-a); required"});
        keys.put("listen", new String[] {"0.0.0.0:" + DEFAULT_PORT, "address and port the peer server listens on"});
        keys.put("vip.interface", new String[] {"eth0", "the interface VIPs are added to"});
        keys.put("tls.ca", new String[] {DEFAULT_TLS_DIRECTORY + "/ca.pem", "the cluster CA certificate (PEM)"});
        keys.put("tls.cert", new String[] {DEFAULT_TLS_DIRECTORY + "/NODE.pem", "this node's certificate (PEM)"});
        keys.put("tls.key", new String[] {DEFAULT_TLS_DIRECTORY + "/NODE.key", "this node's private key (PEM, PKCS#8)"});
        keys.put("plaintext", new String[] {"false", "true: peers talk without TLS (no authentication, no encryption)"});
        keys.put("control.socket", new String[] {DEFAULT_CONTROL_SOCKET.toString(), "the Unix socket pmig talks to"});
        keys.put("control.socket.mode", new String[] {"0600", "permission bits of the control socket (octal)"});
        keys.put("state.directory", new String[] {DEFAULT_STATE_DIRECTORY.toString(),
            "what must outlive a restart of the daemon: the migration journal (DIR/migrations)"});
        keys.put("limits.max.message.bytes", new String[] {Integer.toString(Limits.DEFAULT.maxMessageBytes()),
            "largest request or response a peer may send"});
        keys.put("limits.stream.window.bytes", new String[] {Integer.toString(Limits.DEFAULT.streamWindowBytes()),
            "bytes of a data stream in flight to a receiver that has not read them yet"});
        keys.put("limits.connect.timeout.millis", new String[] {Integer.toString(Limits.DEFAULT.connectTimeoutMillis()),
            "how long connecting to a peer (TCP, TLS, hello) may take"});
        keys.put("limits.request.timeout.millis", new String[] {Integer.toString(Limits.DEFAULT.requestTimeoutMillis()),
            "how long a peer may take to answer a request"});
        keys.put("limits.handler.threads", new String[] {Integer.toString(Limits.DEFAULT.handlerThreads()),
            "threads that run request, stream and control handlers"});
        keys.put("limits.migrations", new String[] {Integer.toString(Limits.DEFAULT.maxMigrations()),
            "migrations this node takes part in at once"});
        keys.put("limits.peer.silence.millis", new String[] {Integer.toString(Limits.DEFAULT.peerSilenceMillis()),
            "a peer heard nothing from (not even a heartbeat) for this long counts as cut off"});
        keys.put("limits.outcome.wait.millis", new String[] {Integer.toString(Limits.DEFAULT.outcomeWaitMillis()),
            "how long pmig migrate waits to learn whether a destination cut off after the commit runs the service"});
        keys.put("limits.memory.reserve.bytes", new String[] {Long.toString(Limits.DEFAULT.memoryReserveBytes()),
            "memory a destination keeps free beyond what an arriving process needs (for the restorer, the daemon, the kernel)"});
        keys.put("limits.clock.skew.millis", new String[] {Integer.toString(Limits.DEFAULT.clockSkewMillis()),
            "a migration is refused when the peer's realtime clock is further than this from this node's (NTP keeps it far below)"});
        keys.put("limits.listener.drain.millis", new String[] {Integer.toString(Limits.DEFAULT.listenerDrainMillis()),
            "how long a service moving away may take, new connections held off, to accept those its listeners hold; beyond, the move is refused"});
        VipSettings vip = VipSettings.DEFAULT;
        keys.put("vip.announce.count", new String[] {Integer.toString(vip.announcements()),
            "announcement rounds after a VIP arrives (the first at once)"});
        keys.put("vip.announce.interval.millis", new String[] {Long.toString(vip.announceInterval().toMillis()),
            "time between announcement rounds"});
        keys.put("vip.announce.mode", new String[] {vip.announceMode().name().toLowerCase(Locale.ROOT),
            "gratuitous ARP as request, reply or both each round (IPv6: one neighbour advertisement)"});
        keys.put("vip.hold.max.packets", new String[] {Integer.toString(vip.holdLimits().maxPackets()),
            "packets a hold keeps during a move; beyond, they are dropped for the clients to retransmit"});
        keys.put("vip.hold.max.bytes", new String[] {Long.toString(vip.holdLimits().maxBytes()), "bytes a hold keeps"});
        keys.put("precopy.stop.below.pages", new String[] {Long.toString(PrecopyOptions.DEFAULT_STOP_BELOW_PAGES),
            "a staged migration freezes the process once a round leaves fewer pages written than this"});
        keys.put("precopy.max.rounds", new String[] {Integer.toString(PrecopyOptions.DEFAULT_MAX_ROUNDS),
            "a staged migration freezes the process after this many rounds at most"});
        keys.put("migration.bandwidth.megabytes.per.second", new String[] {"0",
            "the rate a migration's image stream may use, in MB/s (10^6 bytes), at least 1; 0: no limit"});
        keys.put("engine.warm-up.moves", new String[] {Integer.toString(DEFAULT_WARM_UP_MOVES), "throw-away moves of a sleep"
            + " the daemon makes once started, while it has no other work, so that a migration's code is compiled before it"
            + " runs; 1: only the first, which loads the engine"});
        keys.put("dns.server", new String[] {"", "the primary server of the zone services' names are registered in, HOST[:PORT]"
            + " (port " + DnsSettings.DEFAULT_PORT + " when none is given); none: no DNS registration"});
        keys.put("dns.zone", new String[] {"", "the zone the names live in (e.g. example.com); required with dns.server"});
        keys.put("dns.ttl", new String[] {Long.toString(DnsSettings.DEFAULT_TTL.toSeconds()), "the TTL of the A/AAAA records, in seconds"});
        keys.put("dns.tsig.name", new String[] {"", "the name of the TSIG key that signs the updates (a key the server has)"});
        keys.put("dns.tsig.algorithm", new String[] {TsigKey.DEFAULT_ALGORITHM, "its algorithm: " + String.join(", ", TsigKey.ALGORITHMS)});
        keys.put("dns.tsig.secret", new String[] {"", "its secret, base64 (as in bind's key statement)"});
        keys.put("dns.tsig.keyfile", new String[] {"", "instead of the three keys above: a key file in bind's format (tsig-keygen's output)"});
        keys.put("dns.timeout.millis", new String[] {Long.toString(DnsSettings.DEFAULT_TIMEOUT.toMillis()),
            "how long the DNS server may take to answer an update or a query"});
        keys.put("debug.pause.at", new String[] {"", "for fault tests only: the migration step where this daemon pauses ("
            + String.join(", ", FaultPause.Point.keys()) + ")"});
        keys.put("debug.pause.millis", new String[] {"0", "for fault tests only: how long it pauses there"});
        keys.put("debug.clock.offset.millis", new String[] {"0",
            "for tests only: shifts the realtime clock this node tells its peers (the machine's clock is left alone)"});
        return Collections.unmodifiableMap(keys);
    }

    public DaemonConfig {
        peers = Collections.unmodifiableMap(new TreeMap<>(peers));
    }

    /** Whether a name can name a node: a DNS label, as it is the name in the node's certificate. */
    public static boolean isNodeName(String name) {
        return NODE_NAME.matcher(name).matches();
    }

    /** Reads and checks a configuration file. */
    public static DaemonConfig load(Path file) {
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            properties.load(reader);
        } catch (NoSuchFileException e) {
            throw new ConfigException("the configuration file " + file + " does not exist: create it (README.md,"
                    + " section pmigd, lists its keys) or name another with --config");
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException("cannot read the configuration file " + file + ": " + e.getMessage(), e);
        }
        return parse(properties, file.toString());
    }

    /** Checks a configuration given as properties; {@code source} names it in messages. */
    public static DaemonConfig parse(Properties properties, String source) {
        Reading r = new Reading(properties, source);
        List<String> unknown = new ArrayList<>();
        for (String key : new TreeMap<>(properties).keySet().stream().map(Object::toString).toList()) {
            if (!KEYS.containsKey(key) && !key.startsWith(PEER_PREFIX)) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            throw new ConfigException(source + ": unknown key" + (unknown.size() == 1 ? " " : "s ")
                    + String.join(", ", unknown) + "; the keys are " + String.join(", ", KEYS.keySet()) + " and peer.NAME");
        }
        String node = r.required("node.name");
        if (!isNodeName(node)) {
            throw r.bad("node.name", node, "a node name is a DNS label: lower-case letters, digits and '-', 1 to 63 characters");
        }
        HostPort listen = r.value("listen", v -> HostPort.parse(v, DEFAULT_PORT));
        Map<String, HostPort> peers = new TreeMap<>();
        for (String key : properties.stringPropertyNames()) {
            if (key.startsWith(PEER_PREFIX)) {
                String peer = key.substring(PEER_PREFIX.length());
                if (!isNodeName(peer)) {
                    throw new ConfigException(source + ": key " + key + ": '" + peer + "' is not a node name"
                            + " (lower-case letters, digits and '-')");
                }
                if (peer.equals(node)) {
                    throw new ConfigException(source + ": key " + key + ": a node is not its own peer; remove the key");
                }
                peers.put(peer, r.value(key, v -> HostPort.parse(v, DEFAULT_PORT)));
            }
        }
        Path tlsDefault = DEFAULT_TLS_DIRECTORY;
        Path ca = r.path("tls.ca", tlsDefault.resolve("ca.pem"));
        Path cert = r.path("tls.cert", tlsDefault.resolve(node + ".pem"));
        Path key = r.path("tls.key", tlsDefault.resolve(node + ".key"));
        boolean plaintext = r.value("plaintext", v -> switch (v) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("it must be true or false");
        });
        Path socket = r.path("control.socket", DEFAULT_CONTROL_SOCKET);
        int mode = r.value("control.socket.mode", v -> {
            int bits = Integer.parseInt(v, 8);
            if (bits < 0 || bits > 0777) {
                throw new IllegalArgumentException("it must be octal permission bits from 0000 to 0777");
            }
            return bits;
        });
        Path state = r.path("state.directory", DEFAULT_STATE_DIRECTORY);
        Limits limits = new Limits(
                r.positive("limits.max.message.bytes"),
                r.positive("limits.stream.window.bytes"),
                r.positive("limits.connect.timeout.millis"),
                r.positive("limits.request.timeout.millis"),
                r.positive("limits.handler.threads"),
                r.positive("limits.migrations"),
                r.positive("limits.peer.silence.millis"),
                r.positive("limits.outcome.wait.millis"),
                r.value("limits.memory.reserve.bytes", v -> {
                    long bytes = Long.parseLong(v);
                    if (bytes < 0) {
                        throw new IllegalArgumentException("it must be 0 or more");
                    }
                    return bytes;
                }),
                r.positive("limits.clock.skew.millis"),
                r.positive("limits.listener.drain.millis"));
        if (limits.peerSilenceMillis() < 400) {
            throw r.bad("limits.peer.silence.millis", Integer.toString(limits.peerSilenceMillis()),
                    "it must be at least 400 (heartbeats go out every quarter of it)");
        }
        if (limits.streamWindowBytes() < 64 * 1024) {
            throw r.bad("limits.stream.window.bytes", Integer.toString(limits.streamWindowBytes()), "it must be at least 65536");
        }
        VipSettings vip = new VipSettings(
                r.value("vip.announce.mode", v -> {
                    try {
                        return Announcer.Mode.valueOf(v.toUpperCase(Locale.ROOT));
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException("it must be request, reply or both");
                    }
                }),
                r.positive("vip.announce.count"),
                Duration.ofMillis(r.positive("vip.announce.interval.millis")),
                new HoldLimits(r.positive("vip.hold.max.packets"), r.value("vip.hold.max.bytes", Long::parseLong)),
                VipSettings.DEFAULT.probeTimeout());
        PrecopyOptions precopy = new PrecopyOptions(r.positive("precopy.stop.below.pages"), r.positive("precopy.max.rounds"));
        Bandwidth bandwidth = r.value("migration.bandwidth.megabytes.per.second",
                v -> Bandwidth.megabytesPerSecond(Double.parseDouble(v)));
        FaultPause pause = r.raw("debug.pause.at").isEmpty() ? FaultPause.NONE
                : new FaultPause(r.value("debug.pause.at", FaultPause.Point::of), r.positive("debug.pause.millis"));
        return new DaemonConfig(source, node, listen, peers, r.value("vip.interface", v -> v), ca, cert, key, plaintext,
                socket, mode, state, limits, vip, precopy, bandwidth, pause,
                Clock.offset(Clock.systemUTC(), Duration.ofMillis(r.value("debug.clock.offset.millis", Long::parseLong))), dns(r),
                r.positive("engine.warm-up.moves"));
    }

    /** The dns.* keys: none set is no DNS; otherwise server, zone and one whole TSIG key (its three keys, or a key file). */
    private static Optional<DnsSettings> dns(Reading r) {
        List<String> set = KEYS.keySet().stream().filter(k -> k.startsWith("dns.") && r.properties().getProperty(k) != null).toList();
        if (set.isEmpty()) {
            return Optional.empty();
        }
        if (r.raw("dns.server").isEmpty()) {
            throw new ConfigException(r.source() + ": key" + (set.size() == 1 ? " " : "s ") + String.join(", ", set)
                    + " without dns.server: set dns.server (the zone's primary) to register services' names, or remove them");
        }
        HostPort server = r.value("dns.server", v -> HostPort.parse(v, DnsSettings.DEFAULT_PORT));
        String zone = r.required("dns.zone");
        boolean keyFile = !r.raw("dns.tsig.keyfile").isEmpty();
        List<String> keyParts = List.of("dns.tsig.name", "dns.tsig.algorithm", "dns.tsig.secret");
        List<String> partsSet = keyParts.stream().filter(set::contains).toList();
        TsigKey key;
        if (keyFile) {
            if (!partsSet.isEmpty()) {
                throw new ConfigException(r.source() + ": dns.tsig.keyfile and " + String.join(", ", partsSet) + " are both set:"
                        + " the key file holds the key's name, algorithm and secret; keep one or the other");
            }
            Path file = r.path("dns.tsig.keyfile", null);
            key = r.value("dns.tsig.keyfile", v -> TsigKey.readKeyFile(file));
        } else {
            if (r.raw("dns.tsig.name").isEmpty() || r.raw("dns.tsig.secret").isEmpty()) {
                throw new ConfigException(r.source() + ": dns.server is set but no TSIG key: set dns.tsig.name and dns.tsig.secret"
                        + " (and dns.tsig.algorithm if not " + TsigKey.DEFAULT_ALGORITHM + ") to a key the server grants updates"
                        + " of zone " + zone + ", or dns.tsig.keyfile to its key file");
            }
            try {
                key = new TsigKey(r.raw("dns.tsig.name"), r.raw("dns.tsig.algorithm"), r.raw("dns.tsig.secret"));
            } catch (IllegalArgumentException e) {
                // the message names the key's part, never the secret's value
                throw new ConfigException(r.source() + ": keys dns.tsig.*: " + e.getMessage());
            }
        }
        Duration ttl = Duration.ofSeconds(r.value("dns.ttl", v -> {
            int seconds = Integer.parseInt(v);
            if (seconds < 0) {
                throw new IllegalArgumentException("it must be 0 or more seconds");
            }
            return seconds;
        }));
        Duration timeout = Duration.ofMillis(r.positive("dns.timeout.millis"));
        return Optional.of(r.value("dns.zone", v -> new DnsSettings(server.host(), server.port(), v, ttl, key, timeout)));
    }

    /** The address of a configured peer; refuses a name that is not one. */
    public HostPort peer(String name) {
        HostPort address = peers.get(name);
        if (address == null) {
            throw new ConfigException(name + " is not a peer of " + nodeName + " (" + source + " lists "
                    + (peers.isEmpty() ? "no peers" : String.join(", ", peers.keySet()))
                    + "): add peer." + name + " = ADDRESS:PORT");
        }
        return address;
    }

    public DaemonConfig withListen(HostPort address) {
        return new DaemonConfig(source, nodeName, address, peers, vipInterface, tlsCa, tlsCert, tlsKey, plaintext,
                controlSocket, controlSocketMode, stateDirectory, limits, vip, precopy, migrationBandwidth, pause, clock, dns, warmUpMoves);
    }

    public DaemonConfig withPeers(Map<String, HostPort> addresses) {
        return new DaemonConfig(source, nodeName, listen, addresses, vipInterface, tlsCa, tlsCert, tlsKey, plaintext,
                controlSocket, controlSocketMode, stateDirectory, limits, vip, precopy, migrationBandwidth, pause, clock, dns, warmUpMoves);
    }

    /** Reads keys of one properties set, with the defaults of {@link #KEYS} and errors naming the key. */
    private record Reading(Properties properties, String source) {
        String raw(String key) {
            String value = properties.getProperty(key);
            return value == null ? KEYS.get(key)[0] : value.strip();
        }

        String required(String key) {
            String value = properties.getProperty(key);
            if (value == null || value.isBlank()) {
                throw new ConfigException(source + ": key " + key + " is missing; it is required (" + KEYS.get(key)[1] + ")");
            }
            return value.strip();
        }

        <T> T value(String key, Function<String, T> parse) {
            String value = key.startsWith(PEER_PREFIX) ? properties.getProperty(key).strip() : raw(key);
            try {
                return parse.apply(value);
            } catch (NumberFormatException e) {
                throw bad(key, value, "it must be a number");
            } catch (RuntimeException e) {
                throw bad(key, value, e.getMessage());
            }
        }

        Path path(String key, Path fallback) {
            String value = properties.getProperty(key);
            if (value == null) {
                return fallback;
            }
            if (!value.strip().startsWith("/")) {
                throw bad(key, value.strip(), "it must be an absolute path");
            }
            return Path.of(value.strip());
        }

        int positive(String key) {
            return value(key, v -> {
                int number = Integer.parseInt(v);
                if (number <= 0) {
                    throw new IllegalArgumentException("it must be a positive whole number");
                }
                return number;
            });
        }

        ConfigException bad(String key, String value, String why) {
            return new ConfigException(source + ": key " + key + " = '" + value + "': " + why);
        }
    }
}
