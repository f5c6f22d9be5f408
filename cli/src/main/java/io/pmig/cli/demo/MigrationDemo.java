package io.pmig.cli.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.cli.NativeProgram;
import io.pmig.cli.daemon.MigrateCommand;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * {@code pmig demo}: the main job on a built-in default. On a lab of its own, with bind9 for the zone
 * pmig.test, it starts stream-server on node-a bound to a VIP as service {@value #SERVICE} with
 * {@code pmig run} (the recommended way to start a service that will move), which puts the VIP there and
 * publishes the service's name {@value #DNS_NAME}; it starts stream-client in the client host, connecting by that
 * name (it streams to the server and checks every byte that comes back), moves the service to node-b and
 * back by name with {@code pmig migrate} run in the node it leaves, checks after each move that the
 * process runs on the node it went to and nowhere else, and ends the client for its verdict.
 * Before, it moves an idle process the same way, so that the daemons' JVMs are warm. The
 * lab is removed at the end, after a failure and on Ctrl-C too.
 *
 * <p>Everything goes through pmig's own commands, each in a JVM of its own, as an operator would
 * type them; the demo prints each step as it goes.
 */
public final class MigrationDemo {
    public static final String VIP = "10.77.0.50";
    static final int PREFIX_LENGTH = 24; // the lab's default subnet, 10.77.0.0/24
    static final int PORT = 7000;
    static final String SERVER = "stream-server";
    static final String SERVICE = "web";
    /** The service's DNS name, in the zone of the lab's bind9 (pmig lab up --dns). */
    static final String DNS_NAME = SERVICE + ".pmig.test";
    static final String[] ROUTE = {"node-a", "node-b", "node-a"};
    /** The service's PIDs start above this in node-a: the daemons' JVM threads take the low ones in every node. */
    /** How long the stream flows before the first move, between the moves and after the last one. */
    private static final long STREAM_MILLIS = 2_000;
    /** The client's own limit, should the demo die without ending it. */
    private static final int CLIENT_MAX_SECONDS = 600;
    private static final long COMMAND_SECONDS = 120;
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final LabPmig pmig;
    private final PrintWriter progress;
    private final List<JsonNode> migrations = new ArrayList<>();
    /** The service as its current node numbers it, and as it numbers itself (the same unless it runs in a PID namespace of its own). */
    private int pid;
    private int servicePid;
    private ClientVerdict client;
    private Process clientProcess;
    private CompletableFuture<String> clientOutput;
    private boolean labBuilt;
    private int stepNumber;

    public MigrationDemo(String lab, PrintWriter progress) {
        this.pmig = new LabPmig(lab);
        this.progress = progress;
    }

    /** What the demo found: PASS or FAIL with why, and what it measured. */
    public record Outcome(boolean passed, String message, ObjectNode json) {
    }

    /**
     * Runs the demo. Refuses (nothing built) when the lab's name is taken; any other failure is a
     * FAIL outcome, never an exception, with the lab removed.
     */
    public Outcome run() {
        refuseIfTaken();
        Thread removeOnExit = new Thread(this::removeLab, "pmig-demo-lab-down");
        Runtime.getRuntime().addShutdownHook(removeOnExit);
        String failure = null;
        String summary = null;
        try {
            summary = steps();
        } catch (RuntimeException e) {
            failure = e.getMessage() == null ? e.toString() : e.getMessage();
        } finally {
            endClient();
            String down = removeLab();
            if (down != null) {
                failure = failure == null ? down : failure + "; " + down;
            }
            try {
                Runtime.getRuntime().removeShutdownHook(removeOnExit);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs already
            }
        }
        boolean passed = failure == null;
        String message = passed ? summary : failure;
        return new Outcome(passed, message, json(passed, message));
    }

    private void refuseIfTaken() {
        LabPmig.Result status = pmig.run(List.of("lab", "status", "--json"), COMMAND_SECONDS);
        JsonNode lab = parse(status);
        if (lab.path("up").asBoolean() || lab.path("leftovers").size() > 0) {
            throw new RefusedException("a lab named " + pmig.lab() + " is " + (lab.path("up").asBoolean() ? "up" : "half there ("
                    + lab.path("leftovers") + ")") + ": another pmig demo is running, or one was killed; if none runs, remove it with "
                    + LabPmig.LAB_NAME_VARIABLE + "=" + pmig.lab() + " pmig lab down");
        }
    }

    private String steps() {
        step("building lab " + pmig.lab() + ": node-a, node-b and a client on one bridge, a pmigd on each node (mutual TLS),"
                + " and bind9 in host dns, authoritative for pmig.test");
        long t0 = System.nanoTime();
        labBuilt = true;
        LabPmig.Result up = pmig.run(List.of("lab", "up", "--dns", "--json"), COMMAND_SECONDS);
        require(up);
        for (JsonNode host : parse(up).path("hosts")) {
            detail(String.format(Locale.ROOT, "%-7s %s%s", host.path("name").asText(), host.path("address").asText(),
                    host.path("daemon").path("running").asBoolean() ? ", pmigd pid " + host.path("daemon").path("pid").asLong() : ""));
        }
        detail(String.format(Locale.ROOT, "up in %.1f s", (System.nanoTime() - t0) / 1e9));

        warmUp();

        String source = ROUTE[0];
        List<String> run = List.of("run", SERVICE, "--vip", VIP + "/" + PREFIX_LENGTH, "--dns", DNS_NAME, "--json", "--",
                NativeProgram.path(SERVER).toString(), VIP, Integer.toString(PORT));
        step("service " + SERVICE + ": VIP " + VIP + " on " + source + ", " + SERVER + " bound to it on port " + PORT + ", its name "
                + DNS_NAME + " published: in " + source + ", pmig " + String.join(" ", run));
        LabPmig.Result started = pmig.run(pmig.pmigIn(source, run), COMMAND_SECONDS);
        require(started);
        pid = parse(started).path("pid").asInt();
        require(pmig.run(LabPmig.exec(source, List.of("sh", "-c", "i=0; until ss -Hltn src " + VIP + ":" + PORT + " | grep -q .; do"
                + " i=$((i+1)); if [ $i -gt 200 ]; then echo '" + SERVER + " did not listen in 10 s' >&2; exit 1; fi; sleep 0.05; done")),
                COMMAND_SECONDS));
        servicePid = NodeProcesses.find(pmig.lab(), source, SERVER).get(0).own();
        detail(SERVER + " runs on " + source + " as pid " + pid + " (pid " + servicePid + " inside a PID namespace of its own,"
                + " under pmig's init)");

        showDnsRecord();
        step("client: stream-client at the client host streams to " + DNS_NAME + ":" + PORT + " (by name, through the lab's"
                + " resolver) and checks every byte that comes back");
        startClient();
        pause();

        for (int i = 1; i < ROUTE.length; i++) {
            move(ROUTE[i - 1], ROUTE[i]);
            pause();
        }

        showDnsRecord();
        step("ending the client for its verdict");
        endClient();
        if (client == null) {
            throw new FailedException("stream-client printed no verdict: " + clientOutput.getNow("").strip());
        }
        detail(client.line());
        if (!client.passed()) {
            throw new FailedException("the client failed: " + client.line());
        }
        if (client.maxStallMillis() >= STREAM_MILLIS) {
            throw new FailedException(String.format(Locale.ROOT, "the stream stopped: the client received nothing for %.0f ms",
                    client.maxStallMillis()));
        }
        step("removing lab " + pmig.lab());
        String down = removeLab();
        if (down != null) {
            throw new FailedException(down);
        }
        return summary();
    }

    /**
     * Starts {@code command} on {@code node}, detached, and waits until the shell test {@code ready}
     * holds (10 s at most); returns the PID.
     */
    private int startInNode(String node, String command, String ready) {
        String script = "setsid " + command + " </dev/null >/dev/null 2>&1 & pid=$!; "
                + "i=0; until " + ready + "; do "
                + "i=$((i+1)); if [ $i -gt 200 ]; then echo \"" + command + " was not ready in 10 s\" >&2; exit 1; fi; sleep 0.05; done; "
                + "echo $pid";
        LabPmig.Result started = pmig.run(LabPmig.exec(node, List.of("sh", "-c", script)), COMMAND_SECONDS);
        require(started);
        return Integer.parseInt(started.out().strip());
    }

    /** What the client's resolver answers for the service's name: its VIP, wherever the service runs. */
    private void showDnsRecord() {
        LabPmig.Result answer = pmig.run(LabPmig.exec("client", List.of("dig", "+noall", "+answer", DNS_NAME, "A")), COMMAND_SECONDS);
        require(answer);
        String record = answer.out().strip().replaceAll("\\s+", " ");
        if (!record.endsWith(" A " + VIP)) {
            throw new FailedException("the client's resolver does not answer " + VIP + " for " + DNS_NAME + ": " + record);
        }
        detail("DNS, as the client resolves it: " + record);
    }

    private void startClient() {
        clientProcess = pmig.start(LabPmig.exec("client", List.of(NativeProgram.path("stream-client").toString(), DNS_NAME,
                Integer.toString(PORT), Integer.toString(CLIENT_MAX_SECONDS), "--until-eof")));
        Process process = clientProcess;
        clientOutput = CompletableFuture.supplyAsync(() -> {
            try (var in = process.getInputStream(); var err = process.getErrorStream()) {
                String out = new String(in.readAllBytes());
                return out + new String(err.readAllBytes());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** Lets the stream flow; fails at once if the client ended (it ends early only on a broken stream). */
    private void pause() {
        try {
            if (clientProcess.waitFor(STREAM_MILLIS, TimeUnit.MILLISECONDS)) {
                endClient();
                throw new FailedException("the client ended early: " + (client != null ? client.line() : clientOutput.getNow("").strip()));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FailedException("interrupted", e);
        }
    }

    /** Moves the service by name, printing the report. */
    private void move(String from, String to) {
        List<String> args = List.of("migrate", SERVICE, "--to", to, "--json");
        step("moving service " + SERVICE + " (" + SERVER + ") from " + from + " to " + to + ": in " + from + ", pmig "
                + String.join(" ", args));
        JsonNode report = migrate(SERVICE, servicePid, SERVER, from, to);
        migrations.add(report);
        MigrateCommand.text(report).lines().forEach(this::detail);
        pid = report.path("restoredPid").asInt();
        detail(SERVER + " runs on " + to + " as pid " + pid + (pid == servicePid ? "" : " (pid " + servicePid
            + " inside a PID namespace of its own)") + ", and no longer on " + from);
    }

    /**
     * Runs pmig migrate in {@code from} for {@code process} (a pid or a service's name); returns its report once this
     * machine's /proc shows the process ({@code comm}) on {@code to} only, as the pid the report names, with its own pid
     * {@code own} unchanged.
     */
    private JsonNode migrate(String process, int own, String comm, String from, String to) {
        LabPmig.Result moved = pmig.run(pmig.pmigIn(from, List.of("migrate", process, "--to", to, "--json")),
                COMMAND_SECONDS);
        if (!moved.ok()) {
            throw new FailedException("the move of " + comm + " from " + from + " to " + to + " failed: " + moved.failure());
        }
        JsonNode report = parse(moved);
        List<NodeProcesses.NodePid> there = NodeProcesses.find(pmig.lab(), to, comm);
        List<NodeProcesses.NodePid> left = NodeProcesses.find(pmig.lab(), from, comm);
        NodeProcesses.NodePid expected = new NodeProcesses.NodePid(report.path("restoredPid").asInt(), own);
        if (!report.path("to").asText().equals(to) || !there.equals(List.of(expected)) || !left.isEmpty()) {
            throw new FailedException("after the move " + comm + " runs as " + there + " on " + to + " and " + left + " on " + from
                    + ", expected " + expected + " on " + to + " only (the report says pid " + report.path("restoredPid").asInt()
                    + " on " + report.path("to").asText() + ")");
        }
        return report;
    }

    /**
     * Moves an idle process along the route once: a daemon's first migration loads and compiles
     * its code (about a second), which is not what a running daemon's migrations cost.
     */
    private void warmUp() {
        step("warming up the daemons: each moves a sleep of its own in memory until its engine's code is compiled"
                + " (engine.warm-up.moves), then an idle sleep process moved " + String.join(" -> ", ROUTE)
                + " (a fresh daemon's first migration loads the code that the moves in memory do not run)");
        for (String node : new String[] {ROUTE[0], ROUTE[1]}) {
            JsonNode engine = awaitEngineWarmedUp(node);
            detail(String.format(Locale.ROOT, "%s: %d moves in %.1f s (%s)", node, engine.path("moves").asInt(),
                    engine.path("millis").asLong() / 1e3, engine.path("state").asText()));
        }
        int sleeper = startInNode(ROUTE[0], "sleep 3600", "true");
        int own = sleeper;
        List<String> downtimes = new ArrayList<>();
        for (int i = 1; i < ROUTE.length; i++) {
            JsonNode report = migrate(Integer.toString(sleeper), own, "sleep", ROUTE[i - 1], ROUTE[i]);
            sleeper = report.path("restoredPid").asInt();
            downtimes.add(String.format(Locale.ROOT, "%.1f ms", report.path("downtimeMillis").asDouble()));
        }
        require(pmig.run(LabPmig.exec(ROUTE[ROUTE.length - 1], List.of("kill", Integer.toString(sleeper))), COMMAND_SECONDS));
        detail("downtime " + String.join(" and ", downtimes));
    }

    /** The warm-up section of {@code pmig status} in {@code node} once its moves have ended (or after two minutes). */
    private JsonNode awaitEngineWarmedUp(String node) {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (true) {
            LabPmig.Result status = pmig.run(pmig.pmigIn(node, List.of("status", "--json")), COMMAND_SECONDS);
            require(status);
            JsonNode engine = parse(status).path("warmUp");
            String state = engine.path("state").asText();
            if (!state.equals("starting") && !state.equals("running") || System.nanoTime() > deadline) {
                return engine;
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new FailedException("interrupted while " + node + "'s pmigd warmed up");
            }
        }
    }

    /** Closes the client's stdin, which ends it, and reads its verdict. Idempotent. */
    private void endClient() {
        if (clientProcess == null) {
            return;
        }
        Process process = clientProcess;
        clientProcess = null;
        try {
            process.getOutputStream().close();
            if (!process.waitFor(COMMAND_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            client = ClientVerdict.find(clientOutput.get(COMMAND_SECONDS, TimeUnit.SECONDS)).orElse(null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        } catch (Exception e) {
            process.destroyForcibly();
        }
    }

    /** Removes the lab if this demo built it; returns what went wrong, or null. Idempotent, never throws. */
    private synchronized String removeLab() {
        if (!labBuilt) {
            return null;
        }
        labBuilt = false;
        try {
            LabPmig.Result down = pmig.run(List.of("lab", "down"), COMMAND_SECONDS);
            return down.ok() ? null : "removing the lab failed: " + down.failure();
        } catch (RuntimeException e) {
            return "removing the lab failed: " + e.getMessage() + "; run " + LabPmig.LAB_NAME_VARIABLE + "=" + pmig.lab() + " pmig lab down";
        }
    }

    private String summary() {
        String downtimes = migrations.stream().map(r -> String.format(Locale.ROOT, "%.1f ms", r.path("downtimeMillis").asDouble()))
                .collect(Collectors.joining(" and "));
        return String.format(Locale.ROOT, "%s (pid %d) moved %s with VIP %s (" + DNS_NAME + ") and its client's connection (downtime %s);"
                        + " the client received %.1f MB and sent %.1f MB, every byte checked: none lost, duplicated or reordered,"
                        + " no reset; %d %s of 50 ms or more, the longest stall %.1f ms",
                SERVER, pid, String.join(" -> ", ROUTE), VIP, downtimes, client.received() / 1e6,
                client.sent() / 1e6, client.gaps(), client.gaps() == 1 ? "gap" : "gaps", client.maxStallMillis());
    }

    private ObjectNode json(boolean passed, String message) {
        ObjectNode json = JsonNodeFactory.instance.objectNode();
        json.put("verdict", passed ? "PASS" : "FAIL").put("message", message).put("lab", pmig.lab()).put("vip", VIP).put("dns", DNS_NAME)
                .put("port", PORT);
        if (pid != 0) {
            json.put("pid", pid);
        }
        ArrayNode moves = json.putArray("migrations");
        migrations.forEach(moves::add);
        if (client != null) {
            ObjectNode c = json.putObject("client");
            c.put("verdict", client.passed() ? "PASS" : "FAIL").put("line", client.line()).put("connections", client.connections())
                    .put("bytesSent", client.sent()).put("bytesReceived", client.received())
                    .put("maxStallMillis", client.maxStallMillis()).put("gaps", client.gaps());
            ArrayNode gaps = c.putArray("gapsMillis");
            client.gapsMillis().forEach(gaps::add);
        }
        return json;
    }

    private static void require(LabPmig.Result result) {
        if (!result.ok()) {
            throw new FailedException(result.failure());
        }
    }

    private static JsonNode parse(LabPmig.Result result) {
        try {
            return MAPPER.readTree(result.out());
        } catch (IOException e) {
            throw new FailedException("`" + LabPmig.shown(result.command()) + "` printed no JSON: " + result.out().strip()
                    + " " + result.err().strip(), e);
        }
    }

    private void step(String what) {
        progress.println("[" + ++stepNumber + "] " + what);
        progress.flush();
    }

    private void detail(String line) {
        progress.println("    " + line);
        progress.flush();
    }
}
