import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.RestoredProcess;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.Pipe;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Checkpoint + restore of a process holding 10/100/500 MB of written memory, to and from tmpfs.
 * Prints a table of medians and writes JSON. Two anchors are measured in the same run, with the
 * same byte count: writing it to a new tmpfs file from a small buffer (the floor under any
 * checkpoint to tmpfs), and copying the image into fresh anonymous memory (the floor under any
 * restore: page faults plus memcpy).
 *
 * <p>Restore times are wall-clock around the engine call, so the file path includes mapping and
 * verifying the whole file. The same image is also restored as a stream read from the file (the
 * stream path: record by record, pages copied from a read buffer), to compare the two page paths.
 * Last, the way a migration moves a process: checkpoint into a pipe on one thread while another
 * restores from it (into a new PID namespace, as the frozen original still holds the pid); the time
 * runs from the checkpoint call until the copy is restored (the original is then committed).
 *
 * <p>First, the operator's view, beside the C checkpoint tool: {@code bin/pmig checkpoint} and {@code bin/pmig restore}
 * as commands, a fresh process each, once running in a JVM of their own and once run by a pmigd (docs/pmigd.md,
 * "Commands run by the daemon"), interleaved run by run. Where a working {@code criu} is on PATH ({@code criu check}
 * passes) its dump and restore of the same subject are measured in the same run; otherwise the figures issue 18
 * measured on this kernel stand in (Debian 12's criu 3.17 does not start on it). Frozen: pmig's report, criu's
 * --display-stats.
 *
 *   java -cp CLASSPATH bench/src/CheckpointRestoreBench.java MEMHOLD OUT.json RUNS REPO SIZE_MB...
 */
public class CheckpointRestoreBench {
    /** Issue 18's table of the C tool (medians of 5, images on tmpfs, each command a fresh process): dump, restore, frozen ms. */
    private static final Map<Integer, double[]> ISSUE_18_C_TOOL = Map.of(10, new double[] {51, 44, 9}, 100, new double[] {92, 83, 51},
        500, new double[] {275, 256, 238});
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One command's medians: checkpoint (dump) and restore wall time, the frozen time it reported, and pmig's frozen and
     * restore steps in its reports' order (none for the C tool).
     */
    record Command(double checkpointMs, double restoreMs, double frozenMs, Map<String, Double> frozenSteps,
                   Map<String, Double> restoreSteps) {
    }

    /** The command comparison of one size; {@code cTool} null without a measurement or reference. */
    record CommandRow(int sizeMb, Command ownJvm, Command viaPmigd, Command cTool) {
    }

    record Row(int sizeMb, double checkpointMs, double frozenMs, double restoreMs, double streamRestoreMs, double pipeMs,
               double writeFloorMs, double copyFloorMs, long pageBytes) {
    }

    public static void main(String[] args) throws Exception {
        String memhold = args[0];
        Path out = Path.of(args[1]);
        int runs = Integer.parseInt(args[2]);
        Path repo = Path.of(args[3]);
        Path dir = Path.of("/dev/shm/pmig-bench");
        String loadBefore = loadAverage();
        List<CommandRow> commandRows = commands(memhold, repo, dir, runs, Arrays.stream(args, 4, args.length).mapToInt(Integer::parseInt).toArray());
        String loadAfterCommands = loadAverage();
        printCommands(commandRows, runs, loadBefore, loadAfterCommands);
        List<Row> rows = new ArrayList<>();
        warmUp(memhold, dir);
        for (int i = 4; i < args.length; i++) {
            int size = Integer.parseInt(args[i]);
            double[] ckpt = new double[runs], frozen = new double[runs], rst = new double[runs];
            double[] streamRst = new double[runs], pipe = new double[runs];
            double[] writeFloor = new double[runs], copyFloor = new double[runs];
            long bytes = 0;
            for (int r = 0; r < runs; r++) {
                int pid = start(memhold, size);
                CheckpointReport c = new CheckpointEngine().checkpoint(pid, dir, new CheckpointOptions(false));
                awaitGone(pid);
                long t0 = System.nanoTime();
                RestoreReport rr = new RestoreEngine().restore(dir, new RestoreOptions(false));
                rst[r] = (System.nanoTime() - t0) / 1e6;
                kill(rr.pid());
                streamRst[r] = streamRestoreMs(c.image());
                writeFloor[r] = tmpfsWriteMs(dir.resolve("floor"), c.pageBytes());
                copyFloor[r] = memoryCopyMs(c.image(), c.pageBytes());
                ckpt[r] = c.totalNanos() / 1e6;
                frozen[r] = c.frozenNanos() / 1e6;
                bytes = c.pageBytes();
                pipe[r] = pipeMs(memhold, size);
            }
            rows.add(new Row(size, median(ckpt), median(frozen), median(rst), median(streamRst), median(pipe), median(writeFloor),
                median(copyFloor), bytes));
        }
        print(rows, runs);
        writeJson(out, commandRows, loadBefore, loadAfterCommands, rows, runs);
        deleteImage(dir);
        Files.deleteIfExists(dir);
    }

    /** The commands' comparison at each size: pmig in its own JVM and through a pmigd started here, and the C tool. */
    private static List<CommandRow> commands(String memhold, Path repo, Path dir, int runs, int[] sizes) throws Exception {
        Path work = Files.createTempDirectory("pmig-bench-daemon");
        Path socket = work.resolve("pmigd.sock");
        Files.writeString(work.resolve("pmigd.conf"), "node.name = bench\nlisten = 127.0.0.1:0\nplaintext = true\ncontrol.socket = "
            + socket + "\nvip.interface = pmig-bench-none\nstate.directory = " + work.resolve("state") + "\n");
        Process daemon = new ProcessBuilder(repo.resolve("bin/pmigd").toString(), "--config", work.resolve("pmigd.conf").toString())
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(work.resolve("pmigd.log").toFile()).redirectErrorStream(true).start();
        boolean criu = criuWorks();
        try {
            awaitWarmedUp(daemon, work.resolve("pmigd.log"));
            Map<String, String> ownJvm = Map.of("PMIG_DAEMON_SOCKET", work.resolve("no-daemon.sock").toString());
            Map<String, String> viaPmigd = Map.of("PMIG_DAEMON_SOCKET", socket.toString());
            for (int i = 0; i < 3; i++) {
                pmigCommands(repo, memhold, 10, dir, viaPmigd);
            }
            List<CommandRow> rows = new ArrayList<>();
            for (int size : sizes) {
                List<Command> jvm = new ArrayList<>(), pmigd = new ArrayList<>(), c = new ArrayList<>();
                for (int r = 0; r < runs; r++) {
                    jvm.add(pmigCommands(repo, memhold, size, dir, ownJvm));
                    pmigd.add(pmigCommands(repo, memhold, size, dir, viaPmigd));
                    if (criu) {
                        c.add(criuCommands(memhold, size, dir));
                    }
                }
                double[] reference = ISSUE_18_C_TOOL.get(size);
                Command cTool = criu ? medians(c) : reference == null ? null
                    : new Command(reference[0], reference[1], reference[2], Map.of(), Map.of());
                rows.add(new CommandRow(size, medians(jvm), medians(pmigd), cTool));
            }
            cToolMeasured = criu;
            return rows;
        } finally {
            daemon.destroy();
            daemon.waitFor(30, TimeUnit.SECONDS);
            try (var files = Files.walk(work)) {
                files.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    /** Whether the C tool was measured in this run (else issue 18's figures stand in). */
    private static boolean cToolMeasured;

    /** The medians of each figure over the runs; a step's over the runs that had it. */
    private static Command medians(List<Command> runs) {
        return new Command(median(runs.stream().mapToDouble(Command::checkpointMs).toArray()),
            median(runs.stream().mapToDouble(Command::restoreMs).toArray()),
            median(runs.stream().mapToDouble(Command::frozenMs).toArray()), stepMedians(runs, Command::frozenSteps),
            stepMedians(runs, Command::restoreSteps));
    }

    private static Map<String, Double> stepMedians(List<Command> runs, java.util.function.Function<Command, Map<String, Double>> of) {
        Map<String, Double> steps = new java.util.LinkedHashMap<>();
        for (Command run : runs) {
            for (String step : of.apply(run).keySet()) {
                steps.computeIfAbsent(step, name -> median(runs.stream().filter(x -> of.apply(x).containsKey(name))
                    .mapToDouble(x -> of.apply(x).get(name)).toArray()));
            }
        }
        return steps;
    }

    /** bin/pmig checkpoint, then bin/pmig restore, of a fresh subject; the restored copy is killed. */
    private static Command pmigCommands(Path repo, String memhold, int sizeMb, Path dir, Map<String, String> env) throws Exception {
        int pid = start(memhold, sizeMb);
        deleteImage(dir);
        String pmig = repo.resolve("bin/pmig").toString();
        long t0 = System.nanoTime();
        String checkpoint = run(env, pmig, "checkpoint", Integer.toString(pid), "--dir", dir.toString(), "--json");
        double checkpointMs = (System.nanoTime() - t0) / 1e6;
        awaitGone(pid);
        long t1 = System.nanoTime();
        String restore = run(env, pmig, "restore", "--dir", dir.toString(), "--json");
        double restoreMs = (System.nanoTime() - t1) / 1e6;
        kill(JSON.readTree(restore).get("pid").asInt());
        JsonNode report = JSON.readTree(checkpoint);
        return new Command(checkpointMs, restoreMs, report.get("frozenNanos").asLong() / 1e6, steps(report.get("frozenSteps")),
            steps(JSON.readTree(restore).get("steps")));
    }

    /** criu dump, then criu restore (detached), of a fresh subject; frozen from --display-stats. */
    private static Command criuCommands(String memhold, int sizeMb, Path dir) throws Exception {
        int pid = start(memhold, sizeMb);
        deleteImage(dir);
        Files.createDirectories(dir);
        long t0 = System.nanoTime();
        String dump = run(Map.of(), "criu", "dump", "-t", Integer.toString(pid), "-D", dir.toString(), "--display-stats");
        double dumpMs = (System.nanoTime() - t0) / 1e6;
        awaitGone(pid);
        long t1 = System.nanoTime();
        run(Map.of(), "criu", "restore", "-D", dir.toString(), "-d");
        double restoreMs = (System.nanoTime() - t1) / 1e6;
        kill(pid);
        Matcher frozen = Pattern.compile("Frozen time:\\s*(\\d+)\\s*us").matcher(dump);
        return new Command(dumpMs, restoreMs, frozen.find() ? Long.parseLong(frozen.group(1)) / 1e3 : Double.NaN, Map.of(), Map.of());
    }

    private static boolean criuWorks() {
        try {
            Process p = new ProcessBuilder("criu", "check").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception notThere) {
            return false;
        }
    }

    /** Runs a command to its end; its stdout and stderr together, or fails with them. */
    private static String run(Map<String, String> env, String... command) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().putAll(env);
        Process p = builder.start();
        String output = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed (" + p.exitValue() + "): " + output);
        }
        return output;
    }

    private static void awaitWarmedUp(Process daemon, Path log) throws Exception {
        for (int i = 0; i < 1200; i++) {
            String text = Files.exists(log) ? Files.readString(log) : "";
            if (text.contains("event=warmed-up") || text.contains("event=warm-up-failed")) {
                return;
            }
            if (!daemon.isAlive()) {
                throw new IllegalStateException("pmigd did not start: " + text);
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("pmigd did not warm up in 2 minutes: " + Files.readString(log));
    }

    private static void deleteImage(Path dir) throws Exception {
        if (Files.isDirectory(dir)) {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
        }
    }

    private static String loadAverage() throws Exception {
        String[] fields = Files.readString(Path.of("/proc/loadavg")).split(" ");
        return fields[0] + " " + fields[1] + " " + fields[2];
    }

    private static void printCommands(List<CommandRow> rows, int runs, String loadBefore, String loadAfter) {
        System.out.printf(Locale.ROOT, "pmig checkpoint / restore as commands (a fresh process each, images on tmpfs), median of %d runs;"
            + " load average %s before, %s after%n", runs, loadBefore, loadAfter);
        System.out.printf(Locale.ROOT, "C tool: %s%n", cToolMeasured ? "criu, measured in this run"
            : "issue 18's figures (no working criu on PATH)");
        System.out.printf(Locale.ROOT, "%8s | %-27s | %-27s | %-27s | %s%n", "memory", "pmig, own JVM: ckpt/rst/frz", "pmig via pmigd: ckpt/rst/frz",
            "C tool: dump/rst/frz", "via pmigd / C tool");
        for (CommandRow r : rows) {
            System.out.printf(Locale.ROOT, "%6d MB | %s | %s | %s | %s%n", r.sizeMb(), cells(r.ownJvm()), cells(r.viaPmigd()),
                r.cTool() == null ? String.format("%-27s", "-") : cells(r.cTool()), ratios(r));
        }
        printSteps("frozen time", rows, Command::frozenSteps);
        printSteps("restore", rows, Command::restoreSteps);
    }

    private static void printSteps(String what, List<CommandRow> rows, java.util.function.Function<Command, Map<String, Double>> of) {
        System.out.println("where pmig's " + what + " goes (via pmigd, medians, ms):");
        for (CommandRow r : rows) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%6d MB |", r.sizeMb()));
            of.apply(r.viaPmigd()).forEach((step, ms) -> line.append(String.format(Locale.ROOT, " %s %.2f |", step, ms)));
            System.out.println(line);
        }
    }

    /** A report's steps ([{"step", "millis"}]), a step named twice (a tree's members) added up. */
    private static Map<String, Double> steps(JsonNode list) {
        Map<String, Double> steps = new java.util.LinkedHashMap<>();
        for (JsonNode step : list) {
            steps.merge(step.get("step").asText(), step.get("millis").asDouble(), Double::sum);
        }
        return steps;
    }

    private static String cells(Command c) {
        return String.format(Locale.ROOT, "%6.0f / %6.0f / %6.0f ms", c.checkpointMs(), c.restoreMs(), c.frozenMs());
    }

    private static String ratios(CommandRow r) {
        if (r.cTool() == null) {
            return "-";
        }
        return String.format(Locale.ROOT, "%.2fx / %.2fx / %.2fx", r.viaPmigd().checkpointMs() / r.cTool().checkpointMs(),
            r.viaPmigd().restoreMs() / r.cTool().restoreMs(), r.viaPmigd().frozenMs() / r.cTool().frozenMs());
    }

    private static String json(Command c) {
        return String.format(Locale.ROOT, "{\"checkpointMs\": %.2f, \"restoreMs\": %.2f, \"frozenMs\": %.2f%s%s}", c.checkpointMs(),
            c.restoreMs(), c.frozenMs(), json("frozenStepsMs", c.frozenSteps()), json("restoreStepsMs", c.restoreSteps()));
    }

    /** {@code , "key": {"step": ms, ...}}, or nothing without steps. */
    private static String json(String key, Map<String, Double> steps) {
        StringBuilder out = new StringBuilder();
        steps.forEach((step, ms) -> out.append(out.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "\"%s\": %.2f", step, ms)));
        return steps.isEmpty() ? "" : ", \"" + key + "\": {" + out + "}";
    }

    /** Restores the image file read as a stream, and lets the process go. */
    private static double streamRestoreMs(Path image) throws Exception {
        long t0 = System.nanoTime();
        int pid;
        try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ);
             RestoredProcess p = new RestoreEngine().restore(in, image.toString(), new RestoreOptions(false))) {
            p.resume();
            pid = p.pid();
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        kill(pid);
        return ms;
    }

    /** Checkpoint into a pipe on this thread, restore from it on another; ms until the copy is restored. */
    private static double pipeMs(String memhold, int sizeMb) throws Exception {
        int pid = start(memhold, sizeMb);
        Pipe pipe = Pipe.open();
        AtomicReference<Integer> copy = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread restorer = new Thread(() -> {
            try (RestoredProcess p = new RestoreEngine().restore(pipe.source(), "pipe", new RestoreOptions(true))) {
                p.resume();
                copy.set(p.pid());
            } catch (Throwable e) {
                failure.set(e);
            } finally {
                try {
                    pipe.source().close();
                } catch (java.io.IOException ignored) {
                    // closing a pipe end does not fail
                }
            }
        }, "bench-restore");
        long t0 = System.nanoTime();
        restorer.start();
        FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(pid, pipe.sink(), CheckpointOptions.defaults());
        pipe.sink().close();
        restorer.join();
        double ms = (System.nanoTime() - t0) / 1e6;
        frozen.commit();
        awaitGone(pid);
        if (failure.get() != null) {
            throw new IllegalStateException("restore from the pipe failed", failure.get());
        }
        kill(copy.get());
        return ms;
    }

    private static double tmpfsWriteMs(Path file, long bytes) throws Exception {
        ByteBuffer block = ByteBuffer.allocateDirect(4 << 20);
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            for (long done = 0; done < bytes; ) {
                block.clear().limit((int) Math.min(block.capacity(), bytes - done));
                done += ch.write(block);
            }
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        Files.delete(file);
        return ms;
    }

    private static double memoryCopyMs(Path image, long bytes) throws Exception {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            MappedByteBuffer src = ch.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(bytes, ch.size()));
            long t0 = System.nanoTime();
            ByteBuffer dst = ByteBuffer.allocateDirect(src.capacity());
            dst.put(src);
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    private static void warmUp(String memhold, Path dir) throws Exception {
        for (int i = 0; i < 3; i++) {
            int pid = start(memhold, 10);
            new CheckpointEngine().checkpoint(pid, dir, new CheckpointOptions(false));
            awaitGone(pid);
            kill(new RestoreEngine().restore(dir, new RestoreOptions(false)).pid());
        }
    }

    /** Starts the subject outside this JVM's children (the JVM's reaper would take ptrace stops). */
    private static int start(String memhold, int sizeMb) throws Exception {
        Path pidFile = Files.createTempFile("memhold", ".pid");
        new ProcessBuilder("setsid", "--fork", "sh", "-c", "echo $$ > " + pidFile + "; exec " + memhold + " " + sizeMb)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD)
            .start().waitFor();
        int pid = 0;
        for (int i = 0; i < 500 && pid == 0; i++) {
            String s = Files.readString(pidFile).trim();
            pid = s.isEmpty() ? 0 : Integer.parseInt(s);
            Thread.sleep(2);
        }
        Files.delete(pidFile);
        long want = (long) sizeMb << 10;
        for (int i = 0; i < 3000; i++) {
            String status = Files.readString(Path.of("/proc/" + pid + "/status"));
            long rss = Long.parseLong(status.replaceAll("(?s).*VmRSS:\\s+(\\d+) kB.*", "$1"));
            if (rss >= want) {
                Thread.sleep(20);
                return pid;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("memhold " + pid + " did not fill " + sizeMb + " MB");
    }

    private static void awaitGone(int pid) throws InterruptedException {
        for (int i = 0; i < 2000 && Files.exists(Path.of("/proc/" + pid)); i++) {
            Thread.sleep(2);
        }
    }

    private static void kill(int pid) throws Exception {
        new ProcessBuilder("kill", "-9", Integer.toString(pid)).start().waitFor();
        awaitGone(pid);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double gbps(long bytes, double ms) {
        return bytes / (ms / 1000) / 1e9;
    }

    private static void print(List<Row> rows, int runs) {
        System.out.printf(Locale.ROOT, "checkpoint/restore to tmpfs, median of %d runs%n", runs);
        System.out.printf(Locale.ROOT, "%8s %12s %10s %10s %13s %11s %10s %9s %12s %11s %12s %12s %10s%n", "memory", "checkpoint",
            "frozen", "ckpt GB/s", "tmpfs write", "ckpt/write", "restore", "rst GB/s", "mem copy", "rst/copy", "stream rst",
            "stream/mmap", "pipe c+r");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%6d MB %9.1f ms %7.1f ms %10.2f %10.1f ms %10.2fx %7.1f ms %9.2f %9.1f ms %10.2fx %9.1f ms "
                    + "%11.2fx %7.1f ms%n",
                r.sizeMb, r.checkpointMs, r.frozenMs, gbps(r.pageBytes, r.checkpointMs), r.writeFloorMs, r.checkpointMs / r.writeFloorMs,
                r.restoreMs, gbps(r.pageBytes, r.restoreMs), r.copyFloorMs, r.restoreMs / r.copyFloorMs, r.streamRestoreMs,
                r.streamRestoreMs / r.restoreMs, r.pipeMs);
        }
    }

    private static void writeJson(Path out, List<CommandRow> commands, String loadBefore, String loadAfter, List<Row> rows, int runs)
        throws Exception {
        StringBuilder b = new StringBuilder("{\n  \"benchmark\": \"checkpoint-restore\",\n  \"runs\": " + runs + ",\n");
        b.append("  \"loadAverageBefore\": \"" + loadBefore + "\",\n  \"loadAverageAfterCommands\": \"" + loadAfter + "\",\n");
        b.append("  \"cTool\": \"" + (cToolMeasured ? "criu, measured in this run" : "issue 18 (no working criu on PATH)") + "\",\n");
        b.append("  \"commands\": [\n");
        for (int i = 0; i < commands.size(); i++) {
            CommandRow r = commands.get(i);
            b.append(String.format(Locale.ROOT, "    {\"memoryMb\": %d, \"ownJvm\": %s, \"viaPmigd\": %s, \"cTool\": %s", r.sizeMb(),
                json(r.ownJvm()), json(r.viaPmigd()), r.cTool() == null ? "null" : json(r.cTool())));
            if (r.cTool() != null) {
                b.append(String.format(Locale.ROOT, ", \"viaPmigdOverCTool\": {\"checkpoint\": %.3f, \"restore\": %.3f, \"frozen\": %.3f}",
                    r.viaPmigd().checkpointMs() / r.cTool().checkpointMs(), r.viaPmigd().restoreMs() / r.cTool().restoreMs(),
                    r.viaPmigd().frozenMs() / r.cTool().frozenMs()));
            }
            b.append(i + 1 < commands.size() ? "},\n" : "}\n");
        }
        b.append("  ],\n  \"rows\": [\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            b.append(String.format(Locale.ROOT,
                "    {\"memoryMb\": %d, \"pageBytes\": %d, \"checkpointMs\": %.2f, \"frozenMs\": %.2f, \"restoreMs\": %.2f, "
                    + "\"checkpointGBps\": %.3f, \"restoreGBps\": %.3f, \"streamRestoreMs\": %.2f, \"streamOverMmapRestore\": %.3f, "
                    + "\"pipeCheckpointRestoreMs\": %.2f, \"pipeGBps\": %.3f, \"tmpfsWriteFloorMs\": %.2f, \"memoryCopyFloorMs\": %.2f}%s%n",
                r.sizeMb, r.pageBytes, r.checkpointMs, r.frozenMs, r.restoreMs, gbps(r.pageBytes, r.checkpointMs),
                gbps(r.pageBytes, r.restoreMs), r.streamRestoreMs, r.streamRestoreMs / r.restoreMs, r.pipeMs, gbps(r.pageBytes, r.pipeMs),
                r.writeFloorMs, r.copyFloorMs, i + 1 < rows.size() ? "," : ""));
        }
        b.append("  ]\n}\n");
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, b.toString());
        System.out.println("wrote " + out);
    }
}
