package io.pmig.daemon.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.daemon.Daemon;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.daemon.log.DaemonLog;
import io.pmig.daemon.migration.MigrationService;
import io.pmig.daemon.peer.PeerException;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ExecutionException;

/**
 * {"op": "drain", "node": NODE, "to": [NODE, ...] (optional), "parallel": K, "dryRun": bool}: moves every service
 * of this node to its peers, through the same migration as {@code pmig migrate}, at most K at a time. Each goes to
 * the peer with the fewest services that can give its memory (the most free memory among equals), as the peers
 * answer now; {@code to} limits the choice. A service that cannot move runs on here and is named with the reason.
 * Progress: {"service", "event": "moving" | "moved" | "stayed", ...} per service; the answer lists the moves, what
 * stayed, and whether the node is empty.
 */
final class Drain {
    static final String OP = "drain";
    private static final long MB = 1 << 20;

    private final Daemon daemon;
    private final ServiceRegistry registry;
    private final ServiceOps ops;
    private final MigrationService migrations;

    Drain(Daemon daemon, ServiceRegistry registry, ServiceOps ops, MigrationService migrations) {
        this.daemon = daemon;
        this.registry = registry;
        this.ops = ops;
        this.migrations = migrations;
    }

    /** Where one service goes: {@code to} a peer, or nowhere with the {@code reason}. */
    private record Placement(String service, long memoryBytes, String to, String reason) {
    }

    /** A peer as the placement sees it: what it can still give and how many services it runs, counting those placed there. */
    private static final class Target {
        final String node;
        long freeBytes;
        int services;

        Target(ServiceOps.NodeServices n) {
            this.node = n.node();
            this.freeBytes = n.freeMemoryBytes();
            this.services = n.services().size();
        }
    }

    ObjectNode run(ControlCall call) {
        JsonNode r = call.request();
        String node = daemon.config().nodeName();
        String drained = r.path("node").asText(node);
        if (!drained.equals(node)) {
            throw new ControlRefusedException("this is " + node + "'s pmigd; run pmig drain " + drained + " on " + drained
                + ", whose pmigd moves its services");
        }
        if (!call.caller().root()) {
            throw new ControlRefusedException("only root may drain a node");
        }
        List<String> names = new ArrayList<>();
        r.path("to").forEach(t -> names.add(t.asText()));
        if (names.isEmpty()) {
            names.addAll(daemon.config().peers().keySet());
        }
        for (String to : names) {
            if (!daemon.config().peers().containsKey(to)) {
                throw new ControlRefusedException(to + " is not a peer of " + node + " (peers: "
                    + String.join(", ", daemon.config().peers().keySet()) + ")");
            }
        }
        int limit = daemon.config().limits().maxMigrations();
        int parallel = Math.max(1, Math.min(r.path("parallel").asInt(1), limit));
        ObjectNode answer = JsonNodeFactory.instance.objectNode().put("node", node).put("parallel", parallel);
        ArrayNode notes = answer.putArray("notes");
        if (r.path("parallel").asInt(1) > limit) {
            notes.add("at most " + limit + " at a time: limits.migrations of " + daemon.config().source());
        }
        List<Target> targets = new ArrayList<>();
        for (String to : names) {
            try {
                targets.add(new Target(ops.ask(to)));
            } catch (PeerException e) {
                notes.add(to + " takes nothing: " + e.getMessage());
            }
        }
        List<Placement> plan = place(registry.list(), targets);
        ArrayNode planned = answer.putArray("plan");
        plan.forEach(p -> planned.addObject().put("service", p.service()).put("to", p.to()).put("memoryBytes", p.memoryBytes())
            .put("reason", p.reason()));
        if (r.path("dryRun").asBoolean()) {
            return answer.put("dryRun", true).put("empty", plan.isEmpty())
                .put("movable", plan.stream().allMatch(p -> p.to() != null));
        }
        Map<String, ObjectNode> outcomes = move(call, plan, parallel);
        ArrayNode moved = answer.putArray("moved");
        ArrayNode stayed = answer.putArray("stayed");
        outcomes.values().forEach(o -> (o.path("event").asText().equals("moved") ? moved : stayed).add(o));
        List<Service> left = registry.list();
        answer.put("dryRun", false).put("empty", left.isEmpty());
        DaemonLog.info("drain", "node", node, "moved", moved.size(), "stayed", stayed.size(), "left", left.size());
        return answer;
    }

    /** The largest service first, each to the peer with the fewest services that can give its memory. */
    private static List<Placement> place(List<Service> services, List<Target> targets) {
        List<Placement> plan = new ArrayList<>();
        Map<Service, Long> memory = new LinkedHashMap<>();
        for (Service s : services) {
            try {
                memory.put(s, MigrationService.memoryOf(s.process()));
            } catch (ControlRefusedException e) {
                plan.add(new Placement(s.name(), 0, null, e.getMessage()));
            }
        }
        List<Service> bySize = memory.keySet().stream().sorted(Comparator.comparing((Service s) -> -memory.get(s))).toList();
        for (Service s : bySize) {
            long need = memory.get(s);
            Target best = targets.stream().filter(t -> t.freeBytes >= need)
                .min(Comparator.comparingInt((Target t) -> t.services).thenComparingLong(t -> -t.freeBytes)).orElse(null);
            if (best == null) {
                plan.add(new Placement(s.name(), need, null, targets.isEmpty() ? "no peer answered to take it"
                    : "no peer can give it " + need / MB + " MB (" + String.join(", ", targets.stream()
                        .map(t -> t.node + " can give " + t.freeBytes / MB + " MB").toList()) + ")"));
                continue;
            }
            best.freeBytes -= need;
            best.services++;
            plan.add(new Placement(s.name(), need, best.node, null));
        }
        return plan;
    }

    /** Runs the planned moves, {@code parallel} at a time; one outcome per service, in the plan's order. */
    private Map<String, ObjectNode> move(ControlCall call, List<Placement> plan, int parallel) {
        Map<String, Future<ObjectNode>> running = new LinkedHashMap<>();
        ExecutorService workers = Executors.newFixedThreadPool(parallel, r -> {
            Thread t = new Thread(r, "pmigd-drain");
            t.setDaemon(true);
            return t;
        });
        try {
            for (Placement p : plan) {
                running.put(p.service(), workers.submit(() -> moveOne(call, p)));
            }
            Map<String, ObjectNode> outcomes = new LinkedHashMap<>();
            for (Map.Entry<String, Future<ObjectNode>> f : running.entrySet()) {
                try {
                    outcomes.put(f.getKey(), f.getValue().get());
                } catch (ExecutionException e) {
                    outcomes.put(f.getKey(), event(f.getKey(), "stayed").put("reason", String.valueOf(e.getCause().getMessage())));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    outcomes.put(f.getKey(), event(f.getKey(), "stayed").put("reason", "the drain was interrupted"));
                }
            }
            return outcomes;
        } finally {
            workers.shutdown();
        }
    }

    /** One service's move, on a thread of its own (a migration belongs to the thread that runs it); its outcome. */
    private ObjectNode moveOne(ControlCall call, Placement p) {
        ObjectNode outcome;
        if (p.to() == null) {
            outcome = event(p.service(), "stayed").put("reason", p.reason());
        } else {
            synchronized (call) {
                call.progress(event(p.service(), "moving").put("to", p.to()));
            }
            ObjectNode request = JsonNodeFactory.instance.objectNode().put("op", "migrate").put("service", p.service())
                .put("to", p.to());
            try {
                ObjectNode report = migrations.migrate(call.onBehalf(request, progress -> { }));
                outcome = event(p.service(), "moved").put("to", p.to()).put("pid", report.path("pid").asInt())
                    .put("restoredPid", report.path("restoredPid").asInt())
                    .put("downtimeMillis", report.path("downtimeMillis").asDouble());
            } catch (RuntimeException e) {
                outcome = event(p.service(), "stayed").put("to", p.to()).put("reason", e.getMessage());
            }
        }
        synchronized (call) {
            call.progress(outcome.deepCopy());
        }
        return outcome;
    }

    private static ObjectNode event(String service, String event) {
        return JsonNodeFactory.instance.objectNode().put("service", service).put("event", event);
    }
}
