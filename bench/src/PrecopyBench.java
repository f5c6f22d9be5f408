import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.precopy.WriteForecast;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.PrecopyTarget;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.Round;
import io.pmig.checkpoint.StepTimes;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.ToDoubleFunction;

/**
 * Bundle vs. staged (pre-copy, default options) migration of one process through a pipe between two
 * threads of this JVM (the copy in a new PID namespace, as the original holds its pid until commit).
 * Bundle: total = downtime = from the checkpoint call until the copy is restored and resumed. Staged:
 * total from the start of tracking, downtime from the call that freezes the process (finish) until the
 * copy is restored and resumed; data is every round's bytes on the stream. Medians of RUNS; the
 * staged/bundle ratios are measured in the same run. Prints a table, then where the staged downtime
 * went: the source's steps from the freeze to the last part's last byte, the destination's from the
 * call that reads the last part (its first step waits for the source) to the copy resumed; writes JSON.
 *
 * With --threshold-sweep: staged only, once per stop threshold ({@link #SWEPT_STOP_BELOW_PAGES}, default
 * maxRounds) and writer of several rates over 256 MB, the thresholds taking turns within each run; the
 * ratios to the default threshold are medians of the ratios within each run (the machine's load drifts).
 *
 * With --data-filter: staged only, with the data filter off and on taking turns within each run, for the kinds of
 * workload of Ruan et al. (bench/src/filterload.c), through the pipe as fast as it goes and limited to
 * {@link #FILTER_LIMIT_MB_PER_S} MB/s; the on/off ratios are medians of the ratios within each run.
 *
 *   java -cp CLASSPATH bench/src/PrecopyBench.java PRECOPYLOAD OUT.json RUNS BIG_MB
 *   java -cp CLASSPATH bench/src/PrecopyBench.java --threshold-sweep PRECOPYLOAD OUT.json RUNS
 *   java -cp CLASSPATH bench/src/PrecopyBench.java --data-filter FILTERLOAD OUT.json RUNS
 */
public class PrecopyBench {
    /** A subject: {@code args} follow the program's path on its command line (precopyload MB RATE HOT_MB, or filterload KIND MB). */
    record Workload(String name, int mb, int rateKib, int hotMb, String args) {
        Workload(String name, int mb, int rateKib, int hotMb) {
            this(name, mb, rateKib, hotMb, mb + " " + rateKib + " " + hotMb);
        }

        static Workload filterload(String name, String kind, int mb) {
            return new Workload(name, mb, -1, -1, kind + " " + mb);
        }
    }

    record Result(double totalMs, double downtimeMs, long bytes, int rounds, long lastPartPages, long lastPartBytes, long heldBack,
                  StepTimes source, StepTimes destination) {
    }

    record Row(Workload w, Result bundle, Result staged) {
    }

    /** One workload at one stop threshold: the medians, and the medians of the same run's ratios to the default threshold. */
    record SweepRow(Workload w, long stopBelowPages, Result staged, double downtimeOverDefault, double totalOverDefault,
                    double bytesOverDefault) {
    }

    /**
     * One workload with the data filter off, on (its default forecast) and on with Ruan et al.'s write states at one link
     * speed (0: the pipe's own).
     */
    record FilterRow(Workload w, double limitMbPerS, Result off, Result on, Result states, double bytesOnOverOff,
                     double downtimeOnOverOff, double totalOnOverOff, double bytesStatesOverOff, double downtimeStatesOverOff) {
    }

    /** The filters a data-filter run takes turns with: off, the default forecast, Ruan et al.'s write states. */
    static final List<WriteForecast.Model> FILTERS = List.of(WriteForecast.Model.OFF, WriteForecast.Model.RECENT_WRITES,
        WriteForecast.Model.WRITE_STATES);

    /** The link of the staged-migration bench's limited runs, where rounds last seconds, as in the paper's 500 Mbit/s. */
    static final double FILTER_LIMIT_MB_PER_S = 50;

    /** Around the default, by factors of 4, and 0 (stop only when the written set stops shrinking). */
    static final long[] SWEPT_STOP_BELOW_PAGES = {0, 256, 1024, 4096, 16384};

    public static void main(String[] args) throws Exception {
        if (args[0].equals("--threshold-sweep")) {
            thresholdSweep(args[1], Path.of(args[2]), Integer.parseInt(args[3]));
            return;
        }
        if (args[0].equals("--data-filter")) {
            dataFilter(args[1], Path.of(args[2]), Integer.parseInt(args[3]));
            return;
        }
        String load = args[0];
        Path out = Path.of(args[1]);
        int runs = Integer.parseInt(args[2]);
        int big = Integer.parseInt(args[3]);
        List<Workload> workloads = List.of(new Workload("idle", 10, 0, 0), new Workload("idle", big, 0, 0),
            new Workload("light writer 1 MB/s", 256, 1024, 256), new Workload("write loop", 256, -1, 256));
        warmUp(load);
        List<Row> rows = new ArrayList<>();
        for (Workload w : workloads) {
            List<Result> bundle = new ArrayList<>(), staged = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                bundle.add(bundle(load, w));
                staged.add(staged(load, w, PrecopyOptions.defaults(), 0));
            }
            rows.add(new Row(w, median(bundle), median(staged)));
        }
        print(rows, runs);
        writeJson(out, rows, runs);
    }

    /**
     * Staged migrations at each swept threshold, for rate-limited writers over their whole 256 MB (each round
     * leaves fewer pages written: the threshold decides how many rounds) and a write loop over a small hot set
     * (rounds stop shrinking at once: the threshold decides only whether a second round is sent).
     */
    private static void thresholdSweep(String load, Path out, int runs) throws Exception {
        List<Workload> workloads = List.of(new Workload("writer 1 MB/s", 256, 1024, 256),
            new Workload("writer 8 MB/s", 256, 8 << 10, 256), new Workload("writer 32 MB/s", 256, 32 << 10, 256),
            new Workload("writer 128 MB/s", 256, 128 << 10, 256), new Workload("write loop, 8 MB hot", 256, -1, 8));
        int atDefault = 0;
        while (SWEPT_STOP_BELOW_PAGES[atDefault] != PrecopyOptions.DEFAULT_STOP_BELOW_PAGES) {
            atDefault++;
        }
        warmUp(load);
        List<SweepRow> rows = new ArrayList<>();
        for (Workload w : workloads) {
            List<List<Result>> byThreshold = new ArrayList<>();
            for (long ignored : SWEPT_STOP_BELOW_PAGES) {
                byThreshold.add(new ArrayList<>(Collections.nCopies(runs, null)));
            }
            for (int r = 0; r < runs; r++) {
                for (int i = 0; i < SWEPT_STOP_BELOW_PAGES.length; i++) {
                    int t = (i + r) % SWEPT_STOP_BELOW_PAGES.length; // a different threshold goes first in each run
                    byThreshold.get(t).set(r, staged(load, w,
                        new PrecopyOptions(SWEPT_STOP_BELOW_PAGES[t], PrecopyOptions.DEFAULT_MAX_ROUNDS), 0));
                }
            }
            List<Result> base = byThreshold.get(atDefault);
            for (int t = 0; t < SWEPT_STOP_BELOW_PAGES.length; t++) {
                List<Result> results = byThreshold.get(t);
                rows.add(new SweepRow(w, SWEPT_STOP_BELOW_PAGES[t], median(results), medianRatio(results, base, Result::downtimeMs),
                    medianRatio(results, base, Result::totalMs), medianRatio(results, base, Result::bytes)));
            }
        }
        printSweep(rows, runs);
        writeSweepJson(out, rows, runs);
    }

    /**
     * Staged migrations with the data filter off and on, in turns (which goes first alternates by run), for each kind of
     * workload through the pipe, and the workloads that write through a limited link as well.
     */
    private static void dataFilter(String load, Path out, int runs) throws Exception {
        List<Workload> workloads = List.of(Workload.filterload("idle", "idle", 256), Workload.filterload("top-like", "top", 256),
            Workload.filterload("kernel-build-like", "build", 256), Workload.filterload("write loop, 256 MB hot", "loop", 512));
        warmUp(PrecopyBench.load(load));
        List<FilterRow> rows = new ArrayList<>();
        for (double limit : new double[] {0, FILTER_LIMIT_MB_PER_S}) {
            for (Workload w : workloads) {
                if (limit > 0 && w.args().startsWith("idle")) {
                    continue; // nothing written: the link changes only round 1's time
                }
                Workload limited = limit > 0 && w.args().startsWith("loop") ? Workload.filterload(w.name().replace("256", "64"), "loop", 128) : w;
                List<List<Result>> results = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
                for (int r = 0; r < runs; r++) {
                    for (int k = 0; k < FILTERS.size(); k++) {
                        int f = (k + r) % FILTERS.size();
                        results.get(f).add(staged(load, limited, PrecopyOptions.defaults().withFilter(FILTERS.get(f)), limit));
                    }
                }
                List<Result> off = results.get(0), on = results.get(1), states = results.get(2);
                rows.add(new FilterRow(limited, limit, median(off), median(on), median(states), medianRatio(on, off, Result::bytes),
                    medianRatio(on, off, Result::downtimeMs), medianRatio(on, off, Result::totalMs),
                    medianRatio(states, off, Result::bytes), medianRatio(states, off, Result::downtimeMs)));
                printFilter(rows.get(rows.size() - 1), rows.size() == 1, runs);
            }
        }
        writeFilterJson(out, rows, runs);
    }

    /** The precopyload next to filterload (the warm-up's subject). */
    private static String load(String filterload) {
        return Path.of(filterload).resolveSibling("precopyload").toString();
    }

    /** The median of each run's ratio to the same run's baseline. */
    private static double medianRatio(List<Result> results, List<Result> baseline, ToDoubleFunction<Result> value) {
        double[] ratios = new double[results.size()];
        for (int r = 0; r < ratios.length; r++) {
            ratios[r] = value.applyAsDouble(results.get(r)) / value.applyAsDouble(baseline.get(r));
        }
        return median(ratios);
    }

    private static Result bundle(String load, Workload w) throws Exception {
        int pid = start(load, w);
        Pipe pipe = Pipe.open();
        Destination destination = new Destination(pipe, () -> new RestoreEngine().restore(pipe.source(), "pipe", new RestoreOptions(true)));
        long t0 = System.nanoTime();
        FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(pid, pipe.sink(), CheckpointOptions.defaults());
        pipe.sink().close();
        destination.join();
        long bytes = frozen.report().imageBytes();
        frozen.commit();
        destination.finish(pid);
        double ms = (destination.restoredAt - t0) / 1e6;
        return new Result(ms, ms, bytes, 1, frozen.report().pagesStored(), bytes, 0, frozen.report().steps(), destination.steps);
    }

    /** {@code limitMbPerS}: the stream's bandwidth, 0: the pipe's own. */
    private static Result staged(String load, Workload w, PrecopyOptions options, double limitMbPerS) throws Exception {
        int pid = start(load, w);
        Pipe pipe = Pipe.open();
        WritableByteChannel sink = limitMbPerS > 0 ? new Limited(pipe.sink(), limitMbPerS * 1e6) : pipe.sink();
        BlockingQueue<Boolean> nextIsLast = new LinkedBlockingQueue<>();
        Destination destination = new Destination(pipe, () -> {
            try (PrecopyTarget target = new RestoreEngine().prepareInAdvance(pipe.source(), "pipe", new RestoreOptions(true))) {
                while (!nextIsLast.take()) {
                    target.receiveRound(pipe.source());
                }
                return target.finish(pipe.source(), new RestoreOptions(true));
            }
        });
        long t0 = System.nanoTime();
        long frozenAt;
        FrozenCheckpoint frozen;
        List<Round> rounds;
        try (PrecopySource session = new CheckpointEngine().precopy(pid, options)) {
            session.sendRound(sink);
            while (!session.shouldStop()) {
                nextIsLast.put(false);
                session.sendRound(sink);
            }
            nextIsLast.put(true);
            frozenAt = System.nanoTime();
            frozen = session.finish(sink, CheckpointOptions.defaults());
            rounds = session.rounds();
        } finally {
            nextIsLast.put(true);
            pipe.sink().close();
        }
        destination.join();
        frozen.commit();
        destination.finish(pid);
        long bytes = rounds.stream().mapToLong(Round::bytes).sum();
        Round last = rounds.get(rounds.size() - 1);
        return new Result((destination.restoredAt - t0) / 1e6, (destination.restoredAt - frozenAt) / 1e6, bytes, rounds.size() - 1,
            last.pagesSent(), last.bytes(), rounds.stream().mapToLong(Round::pagesHeldBack).sum(), frozen.report().steps(),
            destination.steps);
    }

    /** A stream that sends no faster than {@code bytesPerSecond} on average since it was opened. */
    static final class Limited implements WritableByteChannel {
        private final WritableByteChannel out;
        private final double bytesPerSecond;
        private final long start = System.nanoTime();
        private long written;

        Limited(WritableByteChannel out, double bytesPerSecond) {
            this.out = out;
            this.bytesPerSecond = bytesPerSecond;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = out.write(src);
            written += n;
            long due = start + (long) (written / bytesPerSecond * 1e9);
            long wait = due - System.nanoTime();
            if (wait > 0) {
                try {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return out.isOpen();
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    interface Restore {
        RestoredProcess run() throws Exception;
    }

    /** The destination thread (ptrace binds the copy to it): restores, resumes, notes when and where the time went. */
    static final class Destination extends Thread {
        private final Pipe pipe;
        private final Restore restore;
        volatile long restoredAt;
        volatile StepTimes steps;
        private volatile int copy;
        private volatile Throwable failure;

        Destination(Pipe pipe, Restore restore) {
            super("bench-destination");
            this.pipe = pipe;
            this.restore = restore;
            start();
        }

        @Override
        public void run() {
            try (RestoredProcess p = restore.run()) {
                long resumeAt = System.nanoTime();
                p.resume();
                restoredAt = System.nanoTime();
                List<StepTimes.Step> all = new ArrayList<>(p.report().steps().steps());
                all.add(new StepTimes.Step("resume", restoredAt - resumeAt));
                steps = new StepTimes(all);
                copy = p.pid();
            } catch (Throwable e) {
                failure = e;
            } finally {
                closeQuietly(pipe.source()); // a failed restore stops the source's writes instead of blocking them
            }
        }

        /** After the original was committed: its pid gone, the copy killed. */
        void finish(int original) throws Exception {
            awaitGone(original);
            if (failure != null) {
                throw new IllegalStateException("the restore failed", failure);
            }
            kill(copy);
        }
    }

    private static void warmUp(String load) throws Exception {
        for (int i = 0; i < 3; i++) {
            bundle(load, new Workload("warm-up", 10, 0, 0));
            staged(load, new Workload("warm-up", 10, 1024, 10), PrecopyOptions.defaults(), 0);
        }
    }

    /** Starts the subject outside this JVM's children (the JVM's reaper would take ptrace stops). */
    private static int start(String load, Workload w) throws Exception {
        Path pidFile = Files.createTempFile("precopyload", ".pid");
        new ProcessBuilder("setsid", "--fork", "sh", "-c", "echo $$ > " + pidFile + "; exec " + load + " " + w.args())
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
        long want = (long) w.mb() << 10;
        for (int i = 0; i < 6000; i++) {
            String status = Files.readString(Path.of("/proc/" + pid + "/status"));
            long rss = Long.parseLong(status.replaceAll("(?s).*VmRSS:\\s+(\\d+) kB.*", "$1"));
            if (rss >= want) {
                Thread.sleep(50);
                return pid;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("precopyload " + pid + " did not fill " + w.mb() + " MB");
    }

    private static void closeQuietly(java.nio.channels.Channel c) {
        try {
            c.close();
        } catch (java.io.IOException ignored) {
            // closing a pipe end does not fail
        }
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

    private static Result median(List<Result> results) {
        return new Result(median(results.stream().mapToDouble(Result::totalMs).toArray()),
            median(results.stream().mapToDouble(Result::downtimeMs).toArray()),
            (long) median(results.stream().mapToDouble(Result::bytes).toArray()),
            (int) median(results.stream().mapToDouble(Result::rounds).toArray()),
            (long) median(results.stream().mapToDouble(Result::lastPartPages).toArray()),
            (long) median(results.stream().mapToDouble(Result::lastPartBytes).toArray()),
            (long) median(results.stream().mapToDouble(Result::heldBack).toArray()),
            medianSteps(results.stream().map(Result::source).toList()), medianSteps(results.stream().map(Result::destination).toList()));
    }

    /** Each step's median over the runs (0 in a run that lacked it), in the order the steps first ran. */
    private static StepTimes medianSteps(List<StepTimes> runs) {
        Set<String> names = new LinkedHashSet<>();
        runs.forEach(r -> r.steps().forEach(step -> names.add(step.name())));
        List<StepTimes.Step> out = new ArrayList<>();
        for (String name : names) {
            out.add(new StepTimes.Step(name, (long) median(runs.stream().mapToDouble(r -> r.nanos(name)).toArray())));
        }
        return new StepTimes(out);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static void print(List<Row> rows, int runs) {
        System.out.printf(Locale.ROOT, "bundle vs. staged migration through a pipe, default pre-copy options, median of %d runs%n", runs);
        System.out.printf(Locale.ROOT, "%-22s %7s | %10s %10s %9s | %10s %10s %9s %6s %10s | %9s %9s%n", "workload", "memory",
            "b total", "b down", "b MB", "s total", "s down", "s MB", "rounds", "last pages", "down s/b", "total s/b");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%-22s %4d MB | %7.1f ms %7.1f ms %9.1f | %7.1f ms %7.1f ms %9.1f %6d %10d | %8.3fx %8.2fx%n",
                r.w().name(), r.w().mb(), r.bundle().totalMs(), r.bundle().downtimeMs(), r.bundle().bytes() / 1e6,
                r.staged().totalMs(), r.staged().downtimeMs(), r.staged().bytes() / 1e6, r.staged().rounds(), r.staged().lastPartPages(),
                r.staged().downtimeMs() / r.bundle().downtimeMs(), r.staged().totalMs() / r.bundle().totalMs());
        }
        System.out.printf(Locale.ROOT, "%nwhere the staged downtime went, ms (medians; destination's first step waits for the source)%n");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%s %d MB, downtime %.1f ms%n  source:      %s%n  destination: %s%n", r.w().name(), r.w().mb(),
                r.staged().downtimeMs(), stepsText(r.staged().source()), stepsText(r.staged().destination()));
        }
    }

    private static void printSweep(List<SweepRow> rows, int runs) {
        System.out.printf(Locale.ROOT, "staged migration through a pipe by stop threshold (maxRounds %d), median of %d runs;"
            + " x%d: median of each run's ratio to stopBelowPages %d%n", PrecopyOptions.DEFAULT_MAX_ROUNDS, runs,
            PrecopyOptions.DEFAULT_STOP_BELOW_PAGES, PrecopyOptions.DEFAULT_STOP_BELOW_PAGES);
        System.out.printf(Locale.ROOT, "%-21s %10s | %10s %10s %8s %6s %10s | %8s %8s %8s%n", "workload (256 MB)", "stop below",
            "total", "downtime", "MB", "rounds", "last pages", "down x", "total x", "MB x");
        for (SweepRow r : rows) {
            System.out.printf(Locale.ROOT, "%-21s %10d | %7.1f ms %7.1f ms %8.1f %6d %10d | %7.2fx %7.2fx %7.2fx%n", r.w().name(),
                r.stopBelowPages(), r.staged().totalMs(), r.staged().downtimeMs(), r.staged().bytes() / 1e6, r.staged().rounds(),
                r.staged().lastPartPages(), r.downtimeOverDefault(), r.totalOverDefault(), r.bytesOverDefault());
        }
    }

    private static void printFilter(FilterRow r, boolean header, int runs) {
        if (header) {
            System.out.printf(Locale.ROOT, "staged migration through a pipe, data filter off / on / on with Ruan et al.'s write states"
                + " (default options otherwise), median of %d runs; x: median of each run's ratio to off%n", runs);
            System.out.printf(Locale.ROOT, "%-24s %6s %7s | %23s %23s %11s %25s %13s | %8s %8s %8s | %8s %8s%n", "workload", "memory",
                "link", "MB sent", "last part MB", "rounds", "downtime ms", "held back", "MB x", "down x", "total x", "states MB x",
                "down x");
        }
        System.out.printf(Locale.ROOT, "%-24s %3d MB %7s | %7.1f %7.1f %7.1f %7.1f %7.1f %7.1f %3d %3d %3d %8.1f %8.1f %8.1f %6d %6d"
                + " | %7.2fx %7.2fx %7.2fx | %10.2fx %7.2fx%n",
            r.w().name(), r.w().mb(), r.limitMbPerS() == 0 ? "pipe" : String.format(Locale.ROOT, "%.0fMB/s", r.limitMbPerS()),
            r.off().bytes() / 1e6, r.on().bytes() / 1e6, r.states().bytes() / 1e6, r.off().lastPartBytes() / 1e6,
            r.on().lastPartBytes() / 1e6, r.states().lastPartBytes() / 1e6, r.off().rounds(), r.on().rounds(), r.states().rounds(),
            r.off().downtimeMs(), r.on().downtimeMs(), r.states().downtimeMs(), r.on().heldBack(), r.states().heldBack(),
            r.bytesOnOverOff(), r.downtimeOnOverOff(), r.totalOnOverOff(), r.bytesStatesOverOff(), r.downtimeStatesOverOff());
    }

    private static void writeFilterJson(Path out, List<FilterRow> rows, int runs) throws Exception {
        writeJson(out, defaultsHeader("data-filter", runs),
            rows.stream().map(r -> String.format(Locale.ROOT,
                "{\"workload\": \"%s\", \"memoryMb\": %d, \"linkMegabytesPerSecond\": %.0f, \"off\": %s, \"on\": %s, "
                    + "\"writeStates\": %s, \"bytesOnOverOff\": %.4f, \"downtimeOnOverOff\": %.4f, \"totalOnOverOff\": %.4f, "
                    + "\"bytesWriteStatesOverOff\": %.4f, \"downtimeWriteStatesOverOff\": %.4f}",
                r.w().name(), r.w().mb(), r.limitMbPerS(), filterJson(r.off()), filterJson(r.on()), filterJson(r.states()),
                r.bytesOnOverOff(), r.downtimeOnOverOff(), r.totalOnOverOff(), r.bytesStatesOverOff(), r.downtimeStatesOverOff()))
                .toList());
    }

    /** The JSON's first fields: the benchmark, its runs and the default pre-copy options it ran with. */
    private static String defaultsHeader(String benchmark, int runs) {
        return "\"benchmark\": \"" + benchmark + "\",\n  \"runs\": " + runs + ",\n  \"precopyOptions\": {\"stopBelowPages\": "
            + PrecopyOptions.DEFAULT_STOP_BELOW_PAGES + ", \"maxRounds\": " + PrecopyOptions.DEFAULT_MAX_ROUNDS + "}";
    }

    private static String filterJson(Result r) {
        return String.format(Locale.ROOT, "{\"bytes\": %d, \"lastPartBytes\": %d, \"rounds\": %d, \"downtimeMs\": %.2f, "
            + "\"totalMs\": %.2f, \"pagesHeldBack\": %d}", r.bytes(), r.lastPartBytes(), r.rounds(), r.downtimeMs(), r.totalMs(),
            r.heldBack());
    }

    private static String stepsText(StepTimes times) {
        StringBuilder b = new StringBuilder();
        for (StepTimes.Step step : times.steps()) {
            b.append(String.format(Locale.ROOT, "%s%s %.2f", b.length() == 0 ? "" : ", ", step.name(), step.nanos() / 1e6));
        }
        return b.toString();
    }

    private static String stepsJson(StepTimes times) {
        StringBuilder b = new StringBuilder("{");
        for (StepTimes.Step step : times.steps()) {
            b.append(String.format(Locale.ROOT, "%s\"%s\": %.3f", b.length() == 1 ? "" : ", ", step.name(), step.nanos() / 1e6));
        }
        return b.append("}").toString();
    }

    private static void writeJson(Path out, List<Row> rows, int runs) throws Exception {
        writeJson(out, defaultsHeader("precopy", runs),
            rows.stream().map(r -> String.format(Locale.ROOT,
                "{%s, \"bundle\": {\"totalMs\": %.2f, \"downtimeMs\": %.2f, \"bytes\": %d}, \"staged\": %s, "
                    + "\"downtimeStagedOverBundle\": %.4f, \"totalStagedOverBundle\": %.3f}",
                workloadJson(r.w()), r.bundle().totalMs(), r.bundle().downtimeMs(), r.bundle().bytes(), stagedJson(r.staged()),
                r.staged().downtimeMs() / r.bundle().downtimeMs(), r.staged().totalMs() / r.bundle().totalMs())).toList());
    }

    private static void writeSweepJson(Path out, List<SweepRow> rows, int runs) throws Exception {
        writeJson(out, "\"benchmark\": \"precopy-threshold\",\n  \"runs\": " + runs + ",\n  \"maxRounds\": "
            + PrecopyOptions.DEFAULT_MAX_ROUNDS + ",\n  \"ratiosTo\": {\"stopBelowPages\": " + PrecopyOptions.DEFAULT_STOP_BELOW_PAGES + "}",
            rows.stream().map(r -> String.format(Locale.ROOT,
                "{%s, \"stopBelowPages\": %d, \"staged\": %s, \"downtimeOverDefault\": %.4f, \"totalOverDefault\": %.4f, "
                    + "\"bytesOverDefault\": %.4f}",
                workloadJson(r.w()), r.stopBelowPages(), stagedJson(r.staged()), r.downtimeOverDefault(), r.totalOverDefault(),
                r.bytesOverDefault())).toList());
    }

    private static String workloadJson(Workload w) {
        return String.format(Locale.ROOT, "\"workload\": \"%s\", \"memoryMb\": %d, \"writeKiBps\": %d, \"hotMb\": %d", w.name(),
            w.mb(), w.rateKib(), w.hotMb());
    }

    private static String stagedJson(Result staged) {
        return String.format(Locale.ROOT, "{\"totalMs\": %.2f, \"downtimeMs\": %.2f, \"bytes\": %d, \"rounds\": %d, "
                + "\"lastPartPages\": %d, \"sourceStepsMs\": %s, \"destinationStepsMs\": %s}", staged.totalMs(), staged.downtimeMs(),
            staged.bytes(), staged.rounds(), staged.lastPartPages(), stepsJson(staged.source()), stepsJson(staged.destination()));
    }

    /** Writes {HEADER, "rows": [...]}, one row object a line. */
    private static void writeJson(Path out, String header, List<String> rows) throws Exception {
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, "{\n  " + header + ",\n  \"rows\": [\n    " + String.join(",\n    ", rows) + "\n  ]\n}\n");
        System.out.println("wrote " + out);
    }
}
