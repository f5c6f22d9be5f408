package io.pmig.cli.lab;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The text and the JSON (one object on one line) that up, status and down print. */
final class LabReports {
    private LabReports() {
    }

    static String write(ObjectNode node) {
        try {
            return LabState.MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot happen for a tree of plain values", e);
        }
    }

    // ---- status (and up) ----

    static ObjectNode json(Lab.Status status, LabLayout layout) {
        ObjectNode json = LabState.MAPPER.createObjectNode();
        json.put("up", status.state().isPresent());
        json.put("healthy", status.healthy());
        json.put("name", layout.name());
        json.put("stateFile", layout.stateFile().toString());
        status.state().ifPresent(state -> {
            json.put("subnet", state.subnet());
            ObjectNode sw = json.putObject("switch");
            sw.put("netns", state.switchNetns());
            sw.put("bridge", state.bridge());
            sw.put("netnsExists", status.switchExists());
            sw.put("bridgeExists", status.bridgeExists());
            ArrayNode hosts = json.putArray("hosts");
            for (Lab.HostStatus host : status.hosts()) {
                ObjectNode h = hosts.addObject();
                h.put("name", host.host().name());
                h.put("role", host.host().role());
                h.put("netns", host.host().netns());
                h.put("netnsExists", host.netnsExists());
                h.put("interface", LabLayout.INTERFACE);
                h.put("address", host.host().address());
                h.put("prefixLength", host.host().prefixLength());
                if (host.host().initPid() == null) {
                    h.putNull("initPid");
                } else {
                    h.put("initPid", host.host().initPid());
                }
                h.put("alive", host.alive());
                if (host.host().isNode()) {
                    ObjectNode daemon = process(h.putObject("daemon"), host.daemonPid());
                    daemon.put("socket", LabDaemons.SOCKET.toString());
                    daemon.put("listen", host.host().address() + ":" + LabDaemons.PORT);
                } else if (LabDns.ROLE.equals(host.host().role())) {
                    process(h.putObject("named"), host.daemonPid()).put("zone", LabDns.ZONE);
                }
                ArrayNode extra = h.putArray("extraAddresses");
                host.extraAddresses().forEach(extra::add);
            }
        });
        ArrayNode leftovers = json.putArray("leftovers");
        status.leftovers().forEach(leftovers::add);
        return json;
    }

    /** {@code running} and {@code pid} (null when it does not run) of a host's daemon. */
    private static ObjectNode process(ObjectNode json, Optional<Long> pid) {
        json.put("running", pid.isPresent());
        if (pid.isPresent()) {
            json.put("pid", pid.get());
        } else {
            json.putNull("pid");
        }
        return json;
    }

    static String text(Lab.Status status, LabLayout layout) {
        StringBuilder text = new StringBuilder();
        if (status.state().isEmpty()) {
            text.append("no lab is up (no ").append(layout.stateFile()).append(")\n");
        } else {
            LabState state = status.state().get();
            text.append("lab ").append(state.name()).append(": ").append(state.nodeCount())
                    .append(state.nodeCount() == 1 ? " node" : " nodes")
                    .append(state.dns().isPresent() ? ", a client and a DNS server on " : " and a client on ").append(state.subnet())
                    .append(", bridge ").append(state.bridge()).append(" in netns ").append(state.switchNetns());
            if (!status.switchExists()) {
                text.append(" (MISSING)");
            } else if (!status.bridgeExists()) {
                text.append(" (bridge MISSING)");
            }
            text.append('\n');
            for (Lab.HostStatus host : status.hosts()) {
                LabState.Host h = host.host();
                text.append(String.format("  %-7s %-18s netns %s", h.name(), h.address() + "/" + h.prefixLength(), h.netns()));
                if (!host.netnsExists()) {
                    text.append(" (MISSING)");
                }
                if (h.isNode()) {
                    text.append("  init pid ").append(h.initPid()).append(host.initAlive() ? " (alive)" : " (NOT RUNNING)");
                    text.append(host.daemonPid().map(pid -> "  pmigd pid " + pid + " on :" + LabDaemons.PORT)
                            .orElse("  pmigd NOT RUNNING"));
                } else if (LabDns.ROLE.equals(h.role())) {
                    text.append(host.daemonPid().map(pid -> "  named pid " + pid + ", zone " + LabDns.ZONE)
                            .orElse("  named NOT RUNNING"));
                }
                if (!host.extraAddresses().isEmpty()) {
                    text.append("  extra ").append(String.join(" ", host.extraAddresses()));
                }
                text.append('\n');
            }
        }
        if (!status.leftovers().isEmpty()) {
            text.append("leftovers of an earlier lab: ").append(String.join(", ", status.leftovers()))
                    .append("; pmig lab down removes them\n");
        }
        return text.toString();
    }

    static ObjectNode json(Lab.Up up, Lab.Status status, LabLayout layout) {
        ObjectNode json = LabState.MAPPER.createObjectNode();
        json.put("created", up.created());
        json.setAll(json(status, layout));
        return json;
    }

    static String text(Lab.Up up, Lab.Status status, LabLayout layout) {
        String first = up.state().hosts().get(0).name();
        return (up.created() ? "built " : "already up, the same shape: ") + text(status, layout)
                + "run a command in a node: pmig lab exec " + first + " -- CMD...\n";
    }

    // ---- down ----

    static ObjectNode json(Lab.Down down) {
        ObjectNode json = LabState.MAPPER.createObjectNode();
        json.put("removedNothing", down.removedNothing());
        ObjectNode daemons = json.putObject("stoppedDaemons");
        down.stoppedDaemons().forEach(daemons::put);
        ObjectNode inits = json.putObject("stoppedInits");
        down.stoppedInits().forEach(inits::put);
        ArrayNode killed = json.putArray("killedProcesses");
        down.killedProcesses().forEach(killed::add);
        ArrayNode namespaces = json.putArray("deletedNamespaces");
        down.deletedNamespaces().forEach(namespaces::add);
        ArrayNode files = json.putArray("removedFiles");
        down.removedFiles().forEach(f -> files.add(f.toString()));
        return json;
    }

    static String text(Lab.Down down) {
        if (down.removedNothing()) {
            return "lab down: nothing to remove, no lab is up\n";
        }
        List<String> parts = new ArrayList<>();
        if (!down.stoppedDaemons().isEmpty()) {
            List<String> daemons = new ArrayList<>();
            down.stoppedDaemons().forEach((node, pid) -> daemons.add(node + " (pid " + pid + ")"));
            parts.add("stopped the pmigd of " + String.join(", ", daemons));
        }
        if (!down.stoppedInits().isEmpty()) {
            List<String> inits = new ArrayList<>();
            for (Map.Entry<String, Long> init : down.stoppedInits().entrySet()) {
                inits.add(init.getKey() + " (pid " + init.getValue() + ")");
            }
            parts.add("stopped the inits of " + String.join(", ", inits));
        }
        if (!down.killedProcesses().isEmpty()) {
            parts.add("killed " + down.killedProcesses().size() + " other processes in the lab's namespaces "
                    + down.killedProcesses());
        }
        if (!down.deletedNamespaces().isEmpty()) {
            parts.add("deleted netns " + String.join(", ", down.deletedNamespaces()));
        }
        if (!down.removedFiles().isEmpty()) {
            parts.add("removed " + String.join(", ", down.removedFiles().stream().map(Path::toString).toList()));
        }
        return "lab down: " + String.join("; ", parts) + "\n";
    }
}
