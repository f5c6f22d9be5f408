import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Process trees moved whole through a lab's pmigds (mutual TLS), NEC's Table 3: Apache prefork (a
 * parent and its workers, started with apache2ctl, the prefork limits set so that exactly 3, 10
 * and 150 processes run) and a streaming server of 14 threads (bench/src/threadstream.c), each on
 * the VIP, moved with {@code pmig migrate ROOT --vip VIP} run in the node it leaves, node-a ->
 * node-b -> node-a ..., RUNS moves a service. Every move runs under a light client load in the
 * lab's client that measures its own stall: for Apache a keep-alive GET every 5 ms
 * (bench/src/httppoll.c), its longest time between two answers; for the streaming server
 * stream-client on each of the 14 connections, its longest time without a byte, every byte
 * checked. Before each move the tree must have exactly its processes and threads, after it all of
 * them on the destination and none on the source. Per case, medians of the daemon's report (total,
 * settle = its last part, held packets forwarded while the VIP's announcement takes; downtime =
 * freeze to resume; its client-relevant stall = packets held to resume), of the client's own stall
 * and of the tree's proportional memory (Pss) as started and after its moves, beside NEC's totals (Apache of 3
 * processes 0.26 s, the 14-thread server 1.41 s). The daemons are warmed up first by a move there
 * and back. Prints a table, writes JSON.
 *
 *   java -cp LAB_MIGRATION_CLASSES:CLI_CLASSPATH bench/src/TreeMigrationBench.java BIN_PMIG THREADSTREAM HTTPPOLL
 *       STREAM_CLIENT WORK_DIR OUT.json RUNS
 */
public class TreeMigrationBench {
    private static final String VIP = "10.77.0.50";
    private static final int HTTP_PORT = 8080;
    private static final int STREAM_PORT = 7000;
    private static final int STREAM_THREADS = 14;
    private static final int PID_RANGE = 10_000;
    private static final Pattern CLIENT_STALL = Pattern.compile("^PASS .*max_stall_ms=([0-9.]+)", Pattern.MULTILINE);

    /** How a case's load client tells it is under way. */
    interface Readiness {
        void await(Process client) throws Exception;
    }

    interface Starter {
        /** Starts the service in {@code node}, its PIDs after {@code pidsAfter}; returns its root's pid. */
        int start(String node, int pidsAfter) throws Exception;
    }

    /** Issue 16: Apache prefork with this many processes moved (staged) with a downtime under GOAL_DOWNTIME_MS. */
    private static final int GOAL_PROCESSES = 10;
    private static final double GOAL_DOWNTIME_MS = 15;
    /** Issue 16: the client's longest stall within this of the downtime. */
    private static final int STALL_GOAL_MS = 2;

    /** A service moved: what it runs as, NEC's total for it if they measured one, how to start it and load it. */
    record Case(String name, int processes, int threads, Double necSeconds, Starter starter, List<String> client, Readiness readiness) {
    }

    /** One move: the daemon's report, the client's longest stall, the tree's proportional memory (Pss) after it. */
    record Move(JsonNode report, double clientStallMs, long pssAfterKb) {
        double total() {
            return report.path("totalMillis").asDouble();
        }

        double field(String name) {
            return report.path(name).asDouble();
        }
    }

    /** A case's moves, and its tree's Pss as started (before any move). */
    record Row(Case c, long pssStartedKb, List<Move> moves) {
        double median(java.util.function.ToDoubleFunction<Move> field) {
            return LabMigration.median(moves.stream().mapToDouble(field).toArray());
        }

        double totalMs() {
            return median(Move::total);
        }

        /** The move whose total is the median's (or nearest it): its steps stand for the case. */
        Move typical() {
            double m = totalMs();
            return moves.stream().min((a, b) -> Double.compare(Math.abs(a.total() - m), Math.abs(b.total() - m))).orElseThrow();
        }
    }

    private final LabMigration lab;
    private final Path work;
    /** staged (every process pre-copied) or bundle, as pmig migrate --mode takes it. */
    private String mode = "staged";

    private TreeMigrationBench(LabMigration lab, Path work) {
        this.lab = lab;
        this.work = work;
    }

    public static void main(String[] args) throws Exception {
        TreeMigrationBench bench = new TreeMigrationBench(new LabMigration(args[0]).awaitWarmedUp("node-a", "node-b"), Files.createDirectories(Path.of(args[4])));
        String threadstream = args[1], httppoll = args[2], streamClient = args[3];
        Path out = Path.of(args[5]);
        int runs = Integer.parseInt(args[6]);
        bench.mode = args[7];
        Files.setPosixFilePermissions(bench.work, PosixFilePermissions.fromString("rwxr-xr-x"));     // apache's workers run as nobody
        bench.lab.exec("node-a", "ip addr add " + VIP + "/24 dev eth0");

        List<String> httpClient = List.of(httppoll, VIP, Integer.toString(HTTP_PORT), "/index.html");
        Readiness firstAnswer = client -> {
            StringBuilder line = new StringBuilder();      // read byte by byte: the verdict that follows is read from the same stream
            for (int ch; (ch = client.getInputStream().read()) >= 0 && ch != '\n'; ) {
                line.append((char) ch);
            }
            if (!"ready".contentEquals(line)) {
                throw new IllegalStateException("httppoll did not get its first answer: " + line);
            }
        };
        List<Case> cases = new ArrayList<>();
        for (int processes : new int[] {3, 10, 150}) {
            cases.add(new Case("Apache prefork", processes, processes, processes == 3 ? 0.26 : null,
                (node, pidsAfter) -> bench.startApache(node, pidsAfter, processes), httpClient, firstAnswer));
        }
        cases.add(new Case("streaming server", 1, STREAM_THREADS, 1.41,
            (node, pidsAfter) -> bench.startStreamServer(node, pidsAfter, threadstream),
            List.of(streamClient, VIP, Integer.toString(STREAM_PORT), "600", "--connections", Integer.toString(STREAM_THREADS),
                "--rate", "64", "--until-eof"),
            client -> bench.awaitConnections(STREAM_THREADS)));

        List<Row> rows = new ArrayList<>();
        String at = "node-a";                // where the VIP is: each service starts where the one before ended
        for (Case c : cases) {
            // each service in a PID range of its own: the node where the one before started has taken PIDs after it since
            int root = c.starter().start(at, LabMigration.SERVICE_PID_AFTER + PID_RANGE * rows.size());
            long pssStarted = bench.pssKb(at, root);
            if (rows.isEmpty()) {            // a fresh daemon's first moves are slower: one there and back, not counted
                bench.move(c, root, "node-a", "node-b");
                bench.move(c, root, "node-b", "node-a");
            }
            List<Move> moves = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                String to = at.equals("node-a") ? "node-b" : "node-a";
                Move move = bench.move(c, root, at, to);
                moves.add(move);
                System.out.printf(Locale.ROOT, "  %s, %d processes, %d threads, %s -> %s: total %.1f ms, downtime %.1f ms,"
                        + " daemon's client stall %.1f ms, client's stall %.1f ms%n", c.name(), c.processes(), c.threads(), at, to,
                    move.total(), move.field("downtimeMillis"), move.field("clientStallMillis"), move.clientStallMs());
                at = to;
            }
            bench.lab.kill(at, bench.tree(at, root).keySet().stream().toList());
            rows.add(new Row(c, pssStarted, moves));
        }
        print(rows, runs, bench.mode);
        writeJson(out, rows, runs, bench.mode);
    }

    /** Apache prefork with exactly {@code processes} processes (its parent and processes - 1 workers) on the VIP in {@code node}. */
    private int startApache(String node, int pidsAfter, int processes) throws Exception {
        Path dir = Files.createDirectories(work.resolve("apache-" + processes));
        Path www = Files.createDirectories(dir.resolve("www"));
        Files.writeString(www.resolve("index.html"), "apache\n");
        int workers = processes - 1;
        Path conf = dir.resolve("apache2.conf");
        Files.writeString(conf, String.join("\n", "ServerRoot " + dir, "DefaultRuntimeDir " + dir,
            "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so",
            "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so",
            "Listen " + VIP + ":" + HTTP_PORT, "ServerName pmig-bench", "User nobody", "Group nogroup",
            "PidFile " + dir.resolve("apache2.pid"), "ErrorLog " + dir.resolve("error.log"), "DocumentRoot " + www,
            "KeepAliveTimeout 30", "MaxKeepAliveRequests 0",
            // every worker started at once, none started or stopped after: idle ones are at most all of them, busy ones at most all
            "ServerLimit " + workers, "StartServers " + workers, "MinSpareServers 1", "MaxSpareServers " + workers,
            "MaxRequestWorkers " + workers,
            "<Directory " + www + ">", "Require all granted", "</Directory>", ""));
        lab.execWithPidsAfter(node, pidsAfter, "apache2ctl -f " + conf + " -k start");
        Path pidFile = dir.resolve("apache2.pid");
        for (int i = 0; i < 600 && (!Files.exists(pidFile) || Files.readString(pidFile).isBlank()); i++) {
            Thread.sleep(50);
        }
        int root = Integer.parseInt(Files.readString(pidFile).strip());
        awaitTree(node, root, processes, processes);
        return root;
    }

    /** threadstream with its 14 threads on the VIP in {@code node}. */
    private int startStreamServer(String node, int pidsAfter, String threadstream) throws Exception {
        int root = Integer.parseInt(lab.execWithPidsAfter(node, pidsAfter, "setsid " + threadstream + " " + VIP + " " + STREAM_PORT + " "
            + STREAM_THREADS + " 256 </dev/null >/dev/null 2>&1 & echo $!").strip());
        awaitTree(node, root, 1, STREAM_THREADS);
        return root;
    }

    /**
     * Moves the tree at {@code root} from {@code from} to {@code to} under the case's client; checks the tree before
     * (exactly its processes and threads) and after (all on {@code to}, none left on {@code from}).
     */
    private Move move(Case c, int root, String from, String to) throws Exception {
        checkTree(from, root, c.processes(), c.threads());
        Process client = LabMigration.startInClient(c.client().toArray(String[]::new));
        try {
            c.readiness().await(client);
            JsonNode report = lab.migrate(from, to, root, "--vip", VIP, "--mode", mode);
            if (!mode.equals(report.path("mode").asText())) {
                throw new IllegalStateException("moved in " + report.path("mode").asText() + " mode, not " + mode + ": " + report);
            }
            if (report.path("processes").size() != c.processes()) {
                throw new IllegalStateException("moved " + report.path("processes").size() + " processes, not " + c.processes()
                    + ": " + report);
            }
            checkTree(to, root, c.processes(), c.threads());
            if (!tree(from, root).isEmpty()) {
                throw new IllegalStateException("the tree of " + root + " is still on " + from + " after its move to " + to);
            }
            client.getOutputStream().close();        // the client ends after its next answer and says how long it waited
            String verdict = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            Matcher stall = CLIENT_STALL.matcher(verdict);
            if (!client.waitFor(60, TimeUnit.SECONDS) || !stall.find()) {
                throw new IllegalStateException("the client failed around the move " + from + " -> " + to + ": " + verdict);
            }
            return new Move(report, Double.parseDouble(stall.group(1)), pssKb(to, root));
        } finally {
            client.destroyForcibly();
        }
    }

    /** Waits (up to 60 s) until the tree at {@code root} in {@code node} has its processes and threads, then checks it. */
    private void awaitTree(String node, int root, int processes, int threads) throws Exception {
        for (int i = 0; i < 600 && !has(tree(node, root), processes, threads); i++) {
            Thread.sleep(100);
        }
        checkTree(node, root, processes, threads);
    }

    private void checkTree(String node, int root, int processes, int threads) throws Exception {
        Map<Integer, Integer> tree = tree(node, root);
        if (!has(tree, processes, threads)) {
            throw new IllegalStateException("the tree of " + root + " in " + node + " runs " + tree.size() + " processes and "
                + tree.values().stream().mapToInt(Integer::intValue).sum() + " threads, not " + processes + " and " + threads);
        }
    }

    /** The proportional set size of the tree at {@code root} in {@code node}: memory its members share counts once. */
    private long pssKb(String node, int root) throws Exception {
        String pids = String.join(" ", tree(node, root).keySet().stream().map(String::valueOf).toList());
        return Long.parseLong(lab.exec(node, "for p in " + pids + "; do cat /proc/$p/smaps_rollup; done"
            + " | awk '/^Pss:/ { kb += $2 } END { print kb }'").strip());
    }

    private static boolean has(Map<Integer, Integer> tree, int processes, int threads) {
        return tree.size() == processes && tree.values().stream().mapToInt(Integer::intValue).sum() == threads;
    }

    /** The processes of the tree at {@code root} in {@code node} (none if it does not run there): pid -> its threads. */
    private Map<Integer, Integer> tree(String node, int root) throws Exception {
        Map<Integer, List<Integer>> children = new HashMap<>();
        Map<Integer, Integer> threads = new HashMap<>();
        for (String line : lab.exec(node, "ps -e -o pid=,ppid=,nlwp=").strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            int pid = Integer.parseInt(f[0]);
            children.computeIfAbsent(Integer.parseInt(f[1]), p -> new ArrayList<>()).add(pid);
            threads.put(pid, Integer.parseInt(f[2]));
        }
        Map<Integer, Integer> tree = new HashMap<>();
        Deque<Integer> next = new ArrayDeque<>();
        if (threads.containsKey(root)) {
            next.add(root);
        }
        while (!next.isEmpty()) {
            int pid = next.poll();
            tree.put(pid, threads.get(pid));
            next.addAll(children.getOrDefault(pid, List.of()));
        }
        return tree;
    }

    /** Waits until the lab's client holds {@code count} established connections to the streaming server. */
    private void awaitConnections(int count) throws Exception {
        String ns = System.getenv("PMIG_LAB_NAME") + "-client";
        for (int i = 0; i < 600; i++) {
            String established = LabMigration.run("ip", "netns", "exec", ns, "ss", "-Htn", "state", "established",
                "dst", VIP + ":" + STREAM_PORT);
            if (established.lines().count() == count) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("stream-client did not open its " + count + " connections");
    }

    private static void print(List<Row> rows, int runs, String mode) {
        System.out.printf(Locale.ROOT, "process trees moved node-a <-> node-b (lab pmigds, mutual TLS, VIP), %s, median of %d moves;"
            + " NEC Table 3: Apache of 3 processes 0.26 s, a 14-thread streaming server 1.41 s%n", mode, runs);
        System.out.printf(Locale.ROOT, "%-18s %9s %7s %11s %11s %11s %14s %14s %8s %8s %13s%n", "case", "processes", "threads", "total",
            "settle", "downtime", "daemon stall", "client stall", "NEC", "NEC/ours", "Pss started -> moved");
        for (Row r : rows) {
            Case c = r.c();
            System.out.printf(Locale.ROOT, "%-18s %9d %7d %8.1f ms %8.1f ms %8.1f ms %11.1f ms %11.1f ms %8s %8s %5.1f MB ->%5.1f MB%n",
                c.name(), c.processes(), c.threads(), r.totalMs(), r.median(m -> m.field("settleMillis")),
                r.median(m -> m.field("downtimeMillis")), r.median(m -> m.field("clientStallMillis")), r.median(Move::clientStallMs),
                c.necSeconds() == null ? "-" : c.necSeconds() + " s",
                c.necSeconds() == null ? "-" : String.format(Locale.ROOT, "%.1fx", c.necSeconds() * 1000 / r.totalMs()),
                r.pssStartedKb() / 1024.0, r.median(Move::pssAfterKb) / 1024);
        }
        rows.stream().filter(r -> r.c().name().equals("Apache prefork") && r.c().processes() == GOAL_PROCESSES).findFirst()
            .ifPresent(r -> System.out.printf(Locale.ROOT, "goal (issue 16, staged): Apache prefork of %d processes with a downtime"
                + " under %.0f ms; measured %.1f ms (%s)%n", GOAL_PROCESSES, GOAL_DOWNTIME_MS, r.median(m -> m.field("downtimeMillis")), mode));
        System.out.println("goal (issue 16): the client's longest stall within " + STALL_GOAL_MS + " ms of the downtime; measured, client stall"
            + " minus downtime: " + rows.stream().map(r -> String.format(Locale.ROOT, "%s of %d %+.1f ms", r.c().name(), r.c().processes(),
                r.median(Move::clientStallMs) - r.median(m -> m.field("downtimeMillis")))).collect(java.util.stream.Collectors.joining(", ")));
        System.out.println("total: the daemon's whole move, settle included (held packets forwarded while the VIP's announcement takes);"
            + " daemon stall: packets held to resume; client stall: the client's own longest wait;"
            + " Pss: the tree's memory, shared pages once (as started, and after a move: median)");
    }

    private static void writeJson(Path out, List<Row> rows, int runs, String mode) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode json = mapper.createObjectNode().put("benchmark", "tree-migration").put("mode", mode).put("runs", runs);
        for (Row r : rows) {
            Case c = r.c();
            ObjectNode row = json.withArrayProperty("rows").addObject().put("case", c.name()).put("processes", c.processes())
                .put("threads", c.threads()).put("totalMs", r.totalMs()).put("settleMs", r.median(m -> m.field("settleMillis")))
                .put("downtimeMs", r.median(m -> m.field("downtimeMillis")))
                .put("daemonClientStallMs", r.median(m -> m.field("clientStallMillis")))
                .put("clientStallMs", r.median(Move::clientStallMs)).put("bytesSent", r.median(m -> m.field("bytesSent")))
                .put("pssStartedKb", r.pssStartedKb()).put("pssMovedKb", r.median(Move::pssAfterKb))
                .put("necTotalSeconds", c.necSeconds()).put("necOverOurs", c.necSeconds() == null ? null : c.necSeconds() * 1000 / r.totalMs());
            r.moves().forEach(m -> {
                row.withArrayProperty("totalsMs").add(m.total());
                row.withArrayProperty("downtimesMs").add(m.field("downtimeMillis"));
                row.withArrayProperty("clientStallsMs").add(m.clientStallMs());
            });
            JsonNode typical = r.typical().report();
            ObjectNode steps = row.putObject("stepsOfTheMedianMove");
            for (String name : new String[] {"downtimeSteps", "frozenSteps", "restoreSteps", "commitSteps"}) {
                steps.set(name, typical.path(name));
            }
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, mapper.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
        System.out.println("wrote " + out);
    }
}
