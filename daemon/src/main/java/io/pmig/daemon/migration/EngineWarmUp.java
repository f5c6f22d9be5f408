package io.pmig.daemon.migration;

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

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The first checkpoint and restore in a JVM load and compile the engine: about a second, which a
 * daemon's first migration would add to its downtime. A starting daemon pays it instead, by
 * moving a throw-away {@code sleep} through memory the way a migration moves a process: staged
 * (a pre-copy round, then the last part; its code is the default mode's, and most of bundle
 * mode's), or bundle where this kernel cannot track writes. Checkpointed (then killed) and
 * restored into a PID namespace of its own (then killed). Its pages go compressed, so zstd's natives are
 * loaded and its code compiled too (a migration's --compress is auto) where zstd loads. Last, the authentication
 * of image files (checkpoint to and restore from a directory, run by the daemon for the CLI) is compiled.
 */
final class EngineWarmUp {
    private static final String WARM_UP_IMAGE = "the warm-up image";

    private EngineWarmUp() {
    }

    /** Returns how long it took. */
    static long run() throws IOException, InterruptedException {
        long start = System.nanoTime();
        String marker = "3600." + ProcessHandle.current().pid();       // names this daemon's own sleep
        // setsid --fork: never a child of this JVM, whose process reaper would steal ptrace stops
        Process launcher = new ProcessBuilder("setsid", "--fork", "sleep", marker).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        if (!launcher.waitFor(10, TimeUnit.SECONDS) || launcher.exitValue() != 0) {
            throw new IOException("cannot start sleep for the warm-up");
        }
        int pid = find("sleep\0" + marker + "\0");
        if (DirtyTracking.available() == DirtyTracking.Method.NONE) {
            moveBundled(pid);
        } else {
            moveStaged(pid);
        }
        ImageMac.warmUp();
        return System.nanoTime() - start;
    }

    private static void moveBundled(int pid) throws IOException {
        ByteArrayOutputStream image = new ByteArrayOutputStream();
        new CheckpointEngine().checkpoint(pid, into(image), CheckpointOptions.defaults()).commit();
        try (RestoredProcess copy = new RestoreEngine().restore(read(image), WARM_UP_IMAGE, new RestoreOptions(true))) {
            copy.kill();
        }
    }

    /** An image into memory, its pages compressed where this host can. */
    private static WritableByteChannel into(ByteArrayOutputStream image) {
        PageCompression.Mode mode = PageCompression.unavailable() == null ? PageCompression.Mode.ON : PageCompression.Mode.OFF;
        return PageCompressingChannel.over(Channels.newChannel(image), new PageCompression(mode, 0));
    }

    private static void moveStaged(int pid) throws IOException {
        ByteArrayOutputStream round = new ByteArrayOutputStream();
        ByteArrayOutputStream lastPart = new ByteArrayOutputStream();
        FrozenCheckpoint frozen;
        try (PrecopySource precopy = new CheckpointEngine().precopy(pid, PrecopyOptions.defaults())) {
            precopy.sendRound(into(round));
            frozen = precopy.finish(into(lastPart), CheckpointOptions.defaults());
        }
        frozen.commit();
        try (PrecopyTarget target = new RestoreEngine().prepareInAdvance(read(round), WARM_UP_IMAGE, new RestoreOptions(true));
             RestoredProcess copy = target.finish(read(lastPart), new RestoreOptions(true))) {
            copy.kill();
        }
    }

    private static ReadableByteChannel read(ByteArrayOutputStream bytes) {
        return Channels.newChannel(new ByteArrayInputStream(bytes.toByteArray()));
    }

    private static int find(String cmdline) throws IOException, InterruptedException {
        for (int attempt = 0; attempt < 200; attempt++) {
            try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
                for (Path p : procs.filter(p -> p.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                    try {
                        if (new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8).equals(cmdline)) {
                            return Integer.parseInt(p.getFileName().toString());
                        }
                    } catch (IOException gone) {
                        // exited meanwhile
                    }
                }
            }
            Thread.sleep(10);
        }
        throw new IOException("the warm-up's sleep did not appear");
    }
}
