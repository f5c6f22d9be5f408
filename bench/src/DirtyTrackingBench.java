import io.pmig.checkpoint.dirty.DirtyTracker;
import io.pmig.checkpoint.dirty.DirtyTracking;
import io.pmig.checkpoint.dirty.PageRange;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The costs of dirty tracking with the method this kernel offers, for a process holding 64/256/1024 MB
 * of written memory: start (freeze, create the tracking state, protect everything), a scan with nothing
 * written, a scan after every page was written (which also protects them again), and what one write
 * pass over every page costs the process tracked, against the same pass untracked measured in the same
 * run (the process times its own passes). Prints a table of medians and writes JSON.
 *
 *   java -cp CLASSPATH bench/src/DirtyTrackingBench.java DIRTYWRITE OUT.json RUNS SIZE_MB...
 */
public class DirtyTrackingBench {
    private static final int PAGE = 4096;

    record Row(int sizeMb, double startMs, double idleScanMs, double fullScanMs, long pagesReported, long pagesWritten,
               double untrackedPassMs, double trackedPassMs) {
    }

    public static void main(String[] args) throws Exception {
        String program = args[0];
        Path out = Path.of(args[1]);
        int runs = Integer.parseInt(args[2]);
        DirtyTracking.Method method = DirtyTracking.available();
        if (method == DirtyTracking.Method.NONE) {
            throw new IllegalStateException("this kernel offers no dirty tracking");
        }
        Path dir = Files.createTempDirectory("pmig-dirty-bench");
        List<Row> rows = new ArrayList<>();
        measure(program, dir, 16, 1); // warm-up: class loading and JIT of the tracker
        for (int i = 3; i < args.length; i++) {
            int size = Integer.parseInt(args[i]);
            rows.add(measure(program, dir, size, runs));
        }
        print(method, rows, runs);
        writeJson(out, method, rows, runs);
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    private static Row measure(String program, Path dir, int sizeMb, int runs) throws Exception {
        double[] start = new double[runs], idle = new double[runs], full = new double[runs];
        double[] untracked = new double[runs], tracked = new double[runs];
        long reported = 0;
        long pages = (long) sizeMb << 20 >> 12;
        for (int r = 0; r < runs; r++) {
            Path done = dir.resolve("done-" + sizeMb + "-" + r);
            int pid = start(program, sizeMb, done);
            try {
                untracked[r] = writePass(pid, done, 1);
                long t0 = System.nanoTime();
                try (DirtyTracker tracker = DirtyTracking.start(pid)) {
                    start[r] = ms(t0);
                    t0 = System.nanoTime();
                    tracker.written();
                    idle[r] = ms(t0);
                    tracked[r] = writePass(pid, done, 2);
                    t0 = System.nanoTime();
                    List<PageRange> written = tracker.written();
                    full[r] = ms(t0);
                    reported = written.stream().mapToLong(w -> w.length() / PAGE).sum();
                }
            } finally {
                new ProcessBuilder("kill", "-9", Integer.toString(pid)).start().waitFor();
            }
        }
        return new Row(sizeMb, median(start), median(idle), median(full), reported, pages, median(untracked), median(tracked));
    }

    /** Asks the program for write pass {@code pass} and returns how long it took the program, in ms. */
    private static double writePass(int pid, Path done, int pass) throws Exception {
        new ProcessBuilder("kill", "-USR1", Integer.toString(pid)).start().waitFor();
        Path result = Path.of(done + "." + pass);
        for (int i = 0; i < 20000 && !Files.exists(result); i++) {
            Thread.sleep(1);
        }
        return Long.parseLong(Files.readString(result).trim()) / 1e6;
    }

    /** Starts the subject outside this JVM's children (the JVM's reaper would take ptrace stops). */
    private static int start(String program, int sizeMb, Path done) throws Exception {
        Path pidFile = Files.createTempFile("dirtywrite", ".pid");
        new ProcessBuilder("setsid", "--fork", "sh", "-c", "echo $$ > " + pidFile + "; exec " + program + " " + sizeMb + " " + done)
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
        for (int i = 0; i < 6000; i++) {
            String status = Files.readString(Path.of("/proc/" + pid + "/status"));
            long rss = Long.parseLong(status.replaceAll("(?s).*VmRSS:\\s+(\\d+) kB.*", "$1"));
            if (rss >= want) {
                Thread.sleep(20);
                return pid;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("dirtywrite " + pid + " did not fill " + sizeMb + " MB");
    }

    private static double ms(long since) {
        return (System.nanoTime() - since) / 1e6;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static void print(DirtyTracking.Method method, List<Row> rows, int runs) {
        System.out.printf(Locale.ROOT, "dirty tracking (%s), median of %d runs%n", method, runs);
        System.out.printf(Locale.ROOT, "%8s %10s %11s %11s %15s %14s %13s %8s%n", "memory", "start", "idle scan", "full scan",
            "pages reported", "pass untracked", "pass tracked", "ratio");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%6d MB %7.2f ms %8.2f ms %8.2f ms %7d/%-7d %11.2f ms %10.2f ms %7.2fx%n", r.sizeMb,
                r.startMs, r.idleScanMs, r.fullScanMs, r.pagesReported, r.pagesWritten, r.untrackedPassMs, r.trackedPassMs,
                r.trackedPassMs / r.untrackedPassMs);
        }
    }

    private static void writeJson(Path out, DirtyTracking.Method method, List<Row> rows, int runs) throws Exception {
        StringBuilder b = new StringBuilder("{\n  \"benchmark\": \"dirty-tracking\",\n  \"method\": \"" + method + "\",\n  \"runs\": "
            + runs + ",\n  \"rows\": [\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            b.append(String.format(Locale.ROOT,
                "    {\"memoryMb\": %d, \"startMs\": %.3f, \"idleScanMs\": %.3f, \"fullScanMs\": %.3f, \"pagesReported\": %d, "
                    + "\"pagesWritten\": %d, \"untrackedPassMs\": %.3f, \"trackedPassMs\": %.3f, \"trackedOverUntracked\": %.2f}%s%n",
                r.sizeMb, r.startMs, r.idleScanMs, r.fullScanMs, r.pagesReported, r.pagesWritten, r.untrackedPassMs,
                r.trackedPassMs, r.trackedPassMs / r.untrackedPassMs, i + 1 < rows.size() ? "," : ""));
        }
        b.append("  ]\n}\n");
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, b.toString());
        System.out.println("wrote " + out);
    }
}
