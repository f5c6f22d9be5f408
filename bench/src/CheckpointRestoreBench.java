import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.RestoredProcess;

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
 *   java -cp CLASSPATH bench/src/CheckpointRestoreBench.java MEMHOLD OUT.json RUNS SIZE_MB...
 */
public class CheckpointRestoreBench {
    record Row(int sizeMb, double checkpointMs, double frozenMs, double restoreMs, double streamRestoreMs, double pipeMs,
               double writeFloorMs, double copyFloorMs, long pageBytes) {
    }

    public static void main(String[] args) throws Exception {
        String memhold = args[0];
        Path out = Path.of(args[1]);
        int runs = Integer.parseInt(args[2]);
        Path dir = Path.of("/dev/shm/pmig-bench");
        List<Row> rows = new ArrayList<>();
        warmUp(memhold, dir);
        for (int i = 3; i < args.length; i++) {
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
        writeJson(out, rows, runs);
        Files.deleteIfExists(dir.resolve(CheckpointEngine.IMAGE_FILE));
        Files.deleteIfExists(dir);
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

    private static void writeJson(Path out, List<Row> rows, int runs) throws Exception {
        StringBuilder b = new StringBuilder("{\n  \"benchmark\": \"checkpoint-restore\",\n  \"runs\": " + runs + ",\n  \"rows\": [\n");
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
