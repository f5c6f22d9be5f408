package io.pmig.daemon.migration;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.PrecopyTarget;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.dirty.DirtyTracking;
import io.pmig.checkpoint.image.PageCompressingChannel;
import io.pmig.checkpoint.image.PageCompression;
import io.pmig.checkpoint.imagedir.ImageMac;
import io.pmig.daemon.log.DaemonLog;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Pays the engine's one-time costs before a migration does, by moving a throw-away {@code sleep}
 * through memory the way a migration moves a process: staged (two pre-copy rounds, then the last
 * part; its code is the default mode's, and most of bundle mode's), or bundle where this kernel
 * cannot track writes; each copy restored into a PID namespace of its own and killed, the original
 * let run on for the next move. Its pages go compressed where zstd loads (a migration's --compress
 * is auto).
 *
 * <p>The first move loads the engine's classes (about a second, which a daemon's first migration
 * would otherwise add to its downtime); migrations wait for it. The moves after it, up to
 * {@code engine.warm-up.moves}, get the code that runs once per migration compiled: the JVM
 * compiles a method after some hundreds of calls, and until then a migration's frozen steps run
 * interpreted, two to three times slower. They run only while the daemon has nothing else to do:
 * the first migration or forwarded command {@linkplain #giveWay() stops} them, waiting only for the
 * move in flight. One thread of its own, which ends after the last move or at {@link #close()}.
 */
final class EngineWarmUp implements AutoCloseable {
    private static final String WARM_UP_IMAGE = "the warm-up image";
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** The deep moves give up after this long: a host too slow for them has better use for its cores. */
    private static final long DEEP_LIMIT_NANOS = TimeUnit.SECONDS.toNanos(60);
    /** A move after the first that fails is followed by another; this many in a row end the warm-up. */
    private static final int FAILURES_IN_A_ROW = 5;

    private final int moves;
    private final Runnable before;
    private final CompletableFuture<Void> firstMove = new CompletableFuture<>();
    /** Held during each move: {@link #stop()} takes it to wait for the one in flight. */
    private final Object moving = new Object();
    private volatile boolean stopped;
    private volatile int done;
    private volatile int failed;
    private volatile String state = "starting";
    private volatile long millis;
    private Thread thread;

    private EngineWarmUp(int moves, Runnable before) {
        this.moves = moves;
        this.before = before;
    }

    /** Starts {@code moves} moves (at least the first) on a thread of their own, after {@code before} (the VIP manager's warm-up). */
    static EngineWarmUp start(int moves, Runnable before) {
        EngineWarmUp warmUp = new EngineWarmUp(Math.max(1, moves), before);
        warmUp.thread = new Thread(warmUp::run, "pmigd-warm-up");
        warmUp.thread.setDaemon(true);
        warmUp.thread.start();
        return warmUp;
    }

    /**
     * The daemon has work (a migration, as source or destination, or a forwarded command), which further moves would
     * slow: waits for the first move (the engine loaded) and the one in flight; no other starts.
     */
    void giveWay() {
        stopped = true;
        firstMove.join();
        awaitMoveInFlight();
    }

    /** For {@code pmig status}: moves done of how many, those that failed, and running, done, stopped or failed. */
    ObjectNode status() {
        ObjectNode status = MAPPER.createObjectNode();
        status.put("state", state);
        status.put("moves", done);
        status.put("of", moves);
        status.put("failedMoves", failed);
        status.put("millis", millis);
        return status;
    }

    /** Ends the moves; the thread, once the move in flight has, kills the sleep and ends. */
    @Override
    public void close() {
        stopped = true;
        awaitMoveInFlight();
    }

    private void awaitMoveInFlight() {
        synchronized (moving) {
            // taken once the move in flight, if any, has ended
        }
    }

    private void run() {
        long start = System.nanoTime();
        try {
            before.run();
            state = "running";
            boolean staged = DirtyTracking.available() != DirtyTracking.Method.NONE;
            move(staged);
            ImageMac.warmUp();
            firstMove.complete(null);
            int failedInARow = 0;
            while (done < moves && !stopped && System.nanoTime() - start < DEEP_LIMIT_NANOS) {
                try {
                    move(staged);
                    failedInARow = 0;
                } catch (IOException | RuntimeException e) {
                    // a move can meet another daemon's restore where nodes share a cgroup tree (the lab's do): try another
                    failed++;
                    if (++failedInARow == FAILURES_IN_A_ROW) {
                        throw e;
                    }
                }
            }
            state = stopped && done < moves ? "stopped" : "done";
            DaemonLog.info("warmed-up", "moves", done, "failedMoves", failed, "millis", (System.nanoTime() - start) / 1_000_000);
        } catch (IOException | RuntimeException e) {
            state = "failed";
            DaemonLog.warn("warm-up-failed", "moves", done, "detail", e.getMessage() + "; the first migrations will be slower");
        } catch (InterruptedException e) {
            state = "stopped";
            Thread.currentThread().interrupt();
        } finally {
            millis = (System.nanoTime() - start) / 1_000_000;
            firstMove.complete(null);
        }
    }

    /**
     * One move of a sleep started for it (a sleep let run on after a freeze sits in restart_syscall, which no move takes),
     * killed once moved as a migration's commit kills its original; none once stopped.
     */
    private void move(boolean staged) throws IOException, InterruptedException {
        synchronized (moving) {
            if (stopped && done > 0) {
                return;
            }
            int pid = startSleep();
            try {
                if (staged) {
                    moveStaged(pid);
                } else {
                    moveBundled(pid);
                }
            } finally {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            done++;
        }
    }

    private static void moveBundled(int pid) throws IOException {
        ByteArrayOutputStream image = new ByteArrayOutputStream();
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(pid, into(image), CheckpointOptions.defaults());
             RestoredProcess copy = new RestoreEngine().restore(read(image), WARM_UP_IMAGE, new RestoreOptions(true))) {
            copy.kill();
            frozen.commit();
        }
    }

    private static void moveStaged(int pid) throws IOException {
        ByteArrayOutputStream first = new ByteArrayOutputStream();
        ByteArrayOutputStream second = new ByteArrayOutputStream();
        ByteArrayOutputStream lastPart = new ByteArrayOutputStream();
        FrozenCheckpoint frozen;
        try (PrecopySource precopy = new CheckpointEngine().precopy(pid, PrecopyOptions.defaults())) {
            precopy.sendRound(into(first));
            precopy.sendRound(into(second));
            frozen = precopy.finish(into(lastPart), CheckpointOptions.defaults());
        }
        try (frozen;
             PrecopyTarget target = new RestoreEngine().prepareInAdvance(read(first), WARM_UP_IMAGE, new RestoreOptions(true))) {
            target.receiveRound(read(second));
            try (RestoredProcess copy = target.finish(read(lastPart), new RestoreOptions(true))) {
                copy.kill();
            }
            frozen.commit();
        }
    }

    /** An image into memory, its pages compressed where this host can. */
    private static WritableByteChannel into(ByteArrayOutputStream image) {
        PageCompression.Mode mode = PageCompression.unavailable() == null ? PageCompression.Mode.ON : PageCompression.Mode.OFF;
        return PageCompressingChannel.over(Channels.newChannel(image), new PageCompression(mode, 0));
    }

    private static ReadableByteChannel read(ByteArrayOutputStream bytes) {
        return Channels.newChannel(new ByteArrayInputStream(bytes.toByteArray()));
    }

    /**
     * A sleep of this daemon's own, never its child (its shell ends at once: this JVM's process reaper would steal its
     * ptrace stops), which ends by itself 10 minutes on should this daemon die before killing it. Its command line
     * names this daemon's pid (sleep 600.PID).
     */
    private static int startSleep() throws IOException, InterruptedException {
        Process shell = new ProcessBuilder("sh", "-c", "setsid sleep 600." + ProcessHandle.current().pid()
            + " </dev/null >/dev/null 2>&1 & echo $!").redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String pid = new String(shell.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        if (!shell.waitFor(10, TimeUnit.SECONDS) || shell.exitValue() != 0 || !pid.matches("[0-9]+")) {
            throw new IOException("cannot start sleep for the warm-up (sh -c 'setsid sleep ... & echo $!' printed '" + pid + "')");
        }
        // $! is the shell's child, which becomes the sleep at its exec: a move before would take a copy of the shell
        Path cmdline = Path.of("/proc", pid, "cmdline");
        for (int attempt = 0; attempt < 1000; attempt++) {
            if (new String(Files.readAllBytes(cmdline), StandardCharsets.US_ASCII).startsWith("sleep\0")) {
                return Integer.parseInt(pid);
            }
            Thread.sleep(1);
        }
        throw new IOException("the warm-up's sleep (pid " + pid + ") did not start sleeping");
    }
}
