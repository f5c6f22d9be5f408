package io.pmig.daemon.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.daemon.Daemon;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.migration.MigrationService;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.PeerException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The registry's control ops ({@value #ADD}, {@value #LIST}, {@value #REMOVE}, {@value #RUN}) and the
 * peer request {@value #NODE_SERVICES}, by which a daemon tells its peers what it runs and how much
 * memory it can give: {@code pmig service list} is cluster-wide, and a drain places services by it.
 */
public final class ServiceOps {
    public static final String ADD = "service.add";
    public static final String LIST = "service.list";
    public static final String REMOVE = "service.remove";
    public static final String RUN = "run";
    public static final String STATUS = "service.status";
    public static final String STOP = "service.stop";
    /** How long a stopped service's processes have after SIGTERM, unless the call says. */
    private static final int STOP_GRACE_SECONDS = 20;
    static final String NODE_SERVICES = "node.services";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Daemon daemon;
    private final ServiceRegistry registry;
    private final ServiceNames names;
    private final LongSupplier freeMemory;

    private ServiceOps(Daemon daemon, ServiceRegistry registry, ServiceNames names, LongSupplier freeMemory) {
        this.daemon = daemon;
        this.registry = registry;
        this.names = names;
        this.freeMemory = freeMemory;
    }

    /** Registers the service ops, the drain and the peer request on {@code daemon}. */
    public static void install(Daemon daemon, ServiceRegistry registry, ServiceNames names, MigrationService migrations) {
        ServiceOps ops = new ServiceOps(daemon, registry, names, migrations::freeMemoryBytes);
        daemon.onControl(ADD, ops::add).onControl(LIST, ops::list).onControl(REMOVE, ops::remove)
            .onControl(RUN, ops::run)
            .onControl(STATUS, ops::status).onControl(STOP, ops::stop)
            .onControl(Drain.OP, call -> new Drain(daemon, registry, ops, migrations).run(call));
        daemon.peerHandlers().onRequest(NODE_SERVICES, (peer, m) -> Message.json(NODE_SERVICES, ops.here()));
    }

    /** What this node runs and can give, as it answers {@value #NODE_SERVICES}. */
    record NodeServices(String node, List<Service> services, List<String> problems, long freeMemoryBytes) {
    }

    NodeServices here() {
        return new NodeServices(daemon.config().nodeName(), registry.list(), registry.problems(), freeMemory.getAsLong());
    }

    /** Asks {@code peer} what it runs; a peer that does not answer is a PeerException. */
    NodeServices ask(String peer) {
        Duration timeout = Duration.ofMillis(daemon.config().limits().requestTimeoutMillis());
        return daemon.peerClient().session(peer).request(Message.of(NODE_SERVICES), timeout).bodyAs(NodeServices.class);
    }

    /** {"op": "service.add", "name", "pid" or "cgroup", "vips": ["IP/PREFIX", ...], "dns": FQDN (optional)}. */
    private ObjectNode add(ControlCall call) {
        JsonNode r = call.request();
        String name = Service.requireValidName(r.path("name").asText(null));
        boolean byPid = r.path("pid").canConvertToInt();
        if (byPid == r.path("cgroup").isTextual()) {
            throw new ControlRefusedException("service.add needs either a \"pid\" or a \"cgroup\"");
        }
        Service s;
        if (byPid) {
            s = Service.of(name, r.path("pid").asInt(), null, vips(r), dns(r));
            daemon.policy().requireMayMigrate(call.caller(), s.process());
        } else {
            if (!call.caller().root()) {
                throw new ControlRefusedException("only root may add a service by its cgroup");
            }
            // a path below the hierarchy's root, as /proc/PID/cgroup says it: given so, or as a path of the mount
            String given = r.path("cgroup").asText();
            String root = Service.cgroupRoot().toString();
            String cgroup = "/" + (given.startsWith(root + "/") ? given.substring(root.length()) : given).replaceFirst("^/+", "");
            s = new Service(name, 0, cgroup, vips(r), dns(r), 0);
            s = Service.of(name, s.process(), cgroup, s.vips(), s.dns());
        }
        registry.add(s);
        return registered(s);
    }

    /** A new entry is in the registry: its name goes into DNS, the answer describes it. */
    private ObjectNode registered(Service s) {
        try {
            names.registered(s);
        } catch (RuntimeException e) {
            registry.remove(s.name());
            throw e;
        }
        Optional<String> pin = ServiceSourcePin.pin(s);
        DaemonLog.info("service-added", "name", s.name(), "pid", s.pid(), "cgroup", s.cgroup() == null ? "-" : s.cgroup(),
            "vips", String.join(",", s.vips()), "dns", s.dns() == null ? "-" : s.dns(), "sourceAddress", pin.orElse("-"));
        return describe(s, daemon.config().nodeName()).put("sourceAddress", pin.orElse(null));
    }

    /**
     * {"op": "run", ...} ({@link ServiceLauncher}): the service's VIPs come up here first, so that it can bind them; it is
     * registered as an added one is. If it cannot start, or its name cannot be published, it ends again and the VIPs this
     * call added go.
     */
    private ObjectNode run(ControlCall call) {
        String iface = daemon.config().vipInterface();
        List<Service.Vip> added = ServiceVips.bringUp(new Service("run", 0, null, vips(call.request()), null, 0).parsedVips(), iface);
        Service s;
        try {
            s = ServiceLauncher.start(call, daemon.config().nodeName(), registry);
        } catch (RuntimeException e) {
            ServiceVips.takeDown(added, iface);
            throw e;
        }
        try {
            return registered(s);
        } catch (RuntimeException e) {
            ServiceStop.stop(s, Duration.ZERO, iface);
            throw e;
        }
    }

    /**
     * {"op": "service.status", "name"}: the entry with "here" true and "running" (its process is there) when the service
     * is this node's; else "here" false.
     */
    private ObjectNode status(ControlCall call) {
        String name = call.request().path("name").asText("");
        return registry.get(name).map(s -> describe(s, daemon.config().nodeName()).put("here", true).put("running", s.running()))
            .orElseGet(() -> JsonNodeFactory.instance.objectNode().put("name", name).put("node", daemon.config().nodeName())
                .put("here", false));
    }

    /**
     * {"op": "service.stop", "name", "graceSeconds" (optional)}: ends the service's processes (SIGTERM, then SIGKILL after
     * the grace period), takes its VIPs off this node, withdraws its DNS name and forgets it.
     */
    private ObjectNode stop(ControlCall call) {
        String name = call.request().path("name").asText("");
        Service s = registry.get(name).orElseThrow(() -> new ControlRefusedException("no service " + name + " runs on "
            + daemon.config().nodeName() + " (pmig service list shows where each runs)"));
        if (!call.caller().root()) {
            daemon.policy().requireMayMigrate(call.caller(), s.pid());
        }
        ServiceSourcePin.unpin(s);                          // while its process still says which cgroup is its
        int grace = call.request().path("graceSeconds").asInt(STOP_GRACE_SECONDS);
        boolean killed = ServiceStop.stop(s, Duration.ofSeconds(Math.max(0, grace)), daemon.config().vipInterface());
        names.removed(s);
        registry.remove(name);
        return describe(s, daemon.config().nodeName()).put("killed", killed);
    }

    /** {"op": "service.remove", "name"}: forgets the service (its process runs on) and its DNS name. */
    private ObjectNode remove(ControlCall call) {
        String name = call.request().path("name").asText("");
        Service s = registry.get(name).orElseThrow(() -> new ControlRefusedException("no service " + name + " runs on "
            + daemon.config().nodeName() + " (pmig service list shows where each runs)"));
        if (!call.caller().root()) {
            daemon.policy().requireMayMigrate(call.caller(), s.pid());
        }
        names.removed(s);
        registry.remove(name);
        ServiceSourcePin.unpin(s);
        DaemonLog.info("service-removed", "name", name, "pid", s.pid());
        return describe(s, daemon.config().nodeName());
    }

    /** {"op": "service.list"}: this node's services and every peer's, as each answers now. */
    private ObjectNode list(ControlCall call) {
        ObjectNode answer = JsonNodeFactory.instance.objectNode();
        ArrayNode all = answer.putArray("services");
        ArrayNode unreachable = answer.putArray("unreachable");
        ArrayNode problems = answer.putArray("problems");
        List<NodeServices> nodes = new ArrayList<>(List.of(here()));
        for (String peer : daemon.config().peers().keySet()) {
            try {
                nodes.add(ask(peer));
            } catch (PeerException e) {
                unreachable.addObject().put("node", peer).put("reason", e.getMessage());
            }
        }
        for (NodeServices n : nodes) {
            n.services().forEach(s -> all.add(describe(s, n.node())));
            n.problems().forEach(p -> problems.add(n.node() + ": " + p));
        }
        return answer;
    }

    /** The entry as the ops answer it, with the node that runs it. */
    static ObjectNode describe(Service s, String node) {
        ObjectNode entry = MAPPER.valueToTree(s);
        entry.put("node", node);
        return entry;
    }

    static List<String> vips(JsonNode r) {
        List<String> out = new ArrayList<>();
        for (JsonNode v : r.path("vips")) {
            String text = v.asText();
            if (!text.matches("[0-9A-Fa-f.:]+/\\d{1,3}")) {
                throw new ControlRefusedException("VIP '" + text + "' is not IP/PREFIX, e.g. 10.77.0.100/24");
            }
            out.add(text);
        }
        return out;
    }

    static String dns(JsonNode r) {
        String fqdn = r.path("dns").asText(null);
        if (fqdn != null && !fqdn.matches("([A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.?")) {
            throw new ControlRefusedException("'" + fqdn + "' is not a DNS name, e.g. web.pmig.test");
        }
        return fqdn;
    }
}
