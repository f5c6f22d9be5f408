package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.image.ImageRecord;
import io.pmig.checkpoint.image.PageCompressingChannel;
import io.pmig.checkpoint.image.PageCompression;
import io.pmig.checkpoint.image.ImageStreamReader;
import io.pmig.checkpoint.nativeio.Linux;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Checkpoint into a stream and restore from one: through a pipe between two threads of this JVM
 * (the copy in a new PID namespace, as the frozen original still holds the pid), and from a saved
 * stream cut short or damaged at many places, which must fail with nothing left behind.
 */
class StreamCheckpointRestoreTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(90)
    void checkpointThroughAPipeIntoARestoreRunningMeanwhile() throws Exception {
        TestProgram original = startReady("mem");
        PipeRestore pipe = PipeRestore.start();
        List<long[]> progress = new ArrayList<>();
        FrozenCheckpoint frozen;
        try {
            frozen = new CheckpointEngine().checkpoint(original.pid(), pipe.sink(),
                CheckpointOptions.defaults().withProgress((done, total) -> progress.add(new long[] {done, total})));
        } finally {
            pipe.sink().close();
        }
        RestoreReport copy = pipe.await(frozen);
        try {
            assertParked(original.pid(), "until commit");
            long imageBytes = frozen.report().imageBytes();
            assertNull(frozen.report().image(), "a streamed checkpoint has no file");
            assertEquals(frozen.report().pageBytes(), copy.pageBytes(), "every page written arrived");
            assertTrue(progress.size() >= 3, "progress reported after the objects, per buffer and at the end: " + progress.size());
            for (int i = 0; i < progress.size(); i++) {
                assertEquals(imageBytes, progress.get(i)[1], "expected total, call " + i);
                assertTrue(i == 0 || progress.get(i)[0] >= progress.get(i - 1)[0], "progress never goes back");
            }
            assertEquals(imageBytes, progress.get(progress.size() - 1)[0], "the last progress call is the whole image");

            frozen.commit();
            original.awaitPidFree(PID_FREE_TIMEOUT);
            assertRunningUntraced(copy.pid(), "after the stream restore");
            original.go();
            assertEquals("PASS", awaitResultOf(original.stateDir(), copy.pid()), "the copy's memory is the original's");
        } finally {
            killQuietly(copy.pid());
        }
    }

    @Test
    @Timeout(90)
    void aCompressedStreamRestoresEveryPage() throws Exception {
        TestProgram original = startReady("dirty_writer");     // one byte written per page: it compresses
        PageCompression compression = new PageCompression(PageCompression.Mode.ON, 0);
        PipeRestore pipe = PipeRestore.start();
        FrozenCheckpoint frozen;
        try {
            frozen = new CheckpointEngine().checkpoint(original.pid(), PageCompressingChannel.over(pipe.sink(), compression),
                CheckpointOptions.defaults());
        } finally {
            pipe.sink().close();
        }
        RestoreReport copy = pipe.await(frozen);
        try {
            assertTrue(compression.ran() && compression.ratio() > 4, "the pages went compressed: " + compression);
            assertEquals(frozen.report().pageBytes(), copy.pageBytes(), "every page written arrived");
            assertTrue(frozen.report().imageBytes() < frozen.report().pageBytes() / 2, "the image is smaller than its pages");
            frozen.commit();
            original.awaitPidFree(PID_FREE_TIMEOUT);
            original.go();
            assertEquals("PASS", awaitResultOf(original.stateDir(), copy.pid()), "the copy's memory is the original's");
        } finally {
            killQuietly(copy.pid());
        }
    }

    @Test
    @Timeout(180)
    void aCutOrDamagedStreamFailsAndLeavesNoProcess() throws Exception {
        TestProgram p = startReady("mem");
        byte[] image = checkpointIntoMemoryAndCommit(p);
        Map<String, Long> at = recordOffsets(image);
        long firstPages = at.get("first PAGES");
        long lastPages = at.get("last PAGES");
        long end = at.get("END");

        // damage up to the end of the first PAGES record (read to learn that the objects are complete) is
        // refused before any process exists; later damage is found with the process half-built, which must be killed
        long afterFirstPages = at.get("after first PAGES");
        Map<String, byte[]> broken = new LinkedHashMap<>();
        Map<String, Boolean> afterLaunch = new LinkedHashMap<>();
        for (long cut : new long[] {5, at.get("first OBJECT") + 3, firstPages, firstPages + 30, (firstPages + end) / 2,
                lastPages + 100, end, image.length - 1}) {
            broken.put("cut at byte " + cut, java.util.Arrays.copyOf(image, (int) cut));
            afterLaunch.put("cut at byte " + cut, cut >= afterFirstPages);
        }
        broken.put("flipped bit in an OBJECT", flip(image, at.get("first OBJECT") + 20));
        afterLaunch.put("flipped bit in an OBJECT", false);
        broken.put("flipped bit in the first page", flip(image, firstPages + 40));
        afterLaunch.put("flipped bit in the first page", false);
        broken.put("flipped bit in the last PAGES record", flip(image, lastPages + 200));
        broken.put("flipped bit in END", flip(image, end + 10));

        for (Map.Entry<String, byte[]> b : broken.entrySet()) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> restoreFrom(b.getValue(), RestoreOptions.defaults()), b.getKey());
            if (afterLaunch.getOrDefault(b.getKey(), true)) {
                assertTrue(e instanceof FailedException && e.getMessage().contains("was killed"), b.getKey() + ": " + e);
            } else {
                assertTrue(e instanceof RefusedException, b.getKey() + ": " + e);
            }
            String message = e.getMessage();
            assertTrue(message.contains("truncated") || message.contains("corrupt"), b.getKey() + ": " + message);
            assertTrue(message.contains("memory stream"), b.getKey() + " names the stream: " + message);
            awaitGone(p.pid(), b.getKey());
        }
        // the intact stream still restores: the refusals were the damage's doing
        restoreAndResume(p, image, RestoreOptions.defaults());
        goExpectPassAndExit(p);
    }

    /**
     * The restorer is a process of its own: when the next free pid is the one it is to create, it gets that
     * pid itself, and the restore is made again by a restorer with another (a host whose pid counter
     * is just below the migrated process's pid: two lab nodes started alike, for one).
     */
    @Test
    @Timeout(60)
    void aRestorerGivenThePidItIsToCreateStepsAside() throws Exception {
        // one thread: only its pid must stay free meanwhile (on a busy host any new process may take the ids after it)
        TestProgram p = startReady("mem");
        byte[] image = checkpointIntoMemoryAndCommit(p);
        // another process of this host (a JVM's new thread, say) may take the pid between the write and the restorer's
        // start: then the restore is refused, nothing made, and the scene is set again
        for (int attempt = 1; ; attempt++) {
            Files.writeString(Path.of("/proc/sys/kernel/ns_last_pid"), Integer.toString(p.pid() - 1));
            try {
                restoreAndResume(p, image, RestoreOptions.defaults());
                break;
            } catch (RefusedException taken) {
                if (attempt == 5 || !taken.getMessage().contains("is in use on this host")) {
                    throw taken;
                }
                p.awaitPidFree(PID_FREE_TIMEOUT);
            }
        }
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(60)
    void killingTheRestoredProcessBeforeResumeLeavesNothing() throws Exception {
        TestProgram p = startReady("threads");
        byte[] image = checkpointIntoMemoryAndCommit(p);
        try (RestoredProcess copy = restoreFrom(image, RestoreOptions.defaults())) {
            assertEquals(p.pid(), copy.pid());
            assertEquals("t (tracing stop)", TestProgram.procState(copy.pid()).orElse("gone"), "stopped until resumed");
            copy.kill();
        }
        awaitGone(p.pid(), "after kill");
        restoreAndResume(p, image, RestoreOptions.defaults());
        goExpectPassAndExit(p);
    }

    @Test
    @Timeout(60)
    void abortLetsTheOriginalRunOn() throws Exception {
        TestProgram p = startReady("threads");
        try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(p.pid(), Channels.newChannel(new ByteArrayOutputStream()),
                CheckpointOptions.defaults())) {
            assertParked(p.pid(), "until decided");
            frozen.abort();
            assertThrows(IllegalStateException.class, frozen::commit, "decided once");
        }
        assertRunningUntraced(p.pid(), "after abort");
        goExpectPassAndExit(p);
    }

    /** Byte offsets of the first OBJECT, first PAGES and its end, last PAGES and END; checks objects come first. */
    private static Map<String, Long> recordOffsets(byte[] image) throws Exception {
        Map<String, Long> at = new LinkedHashMap<>();
        try (ImageStreamReader r = ImageStreamReader.open(Channels.newChannel(new ByteArrayInputStream(image)))) {
            ImageRecord rec;
            long next = 0;
            while ((rec = r.next()) != null) {
                if (rec instanceof ImageRecord.ObjectRecord) {
                    at.putIfAbsent("first OBJECT", rec.offset());
                    assertFalse(at.containsKey("first PAGES"), "OBJECT " + rec + " after a PAGES record");
                } else if (rec instanceof ImageRecord.Pages pages) {
                    at.putIfAbsent("first PAGES", rec.offset());
                    at.put("last PAGES", rec.offset());
                    // frame header, run header, pages, CRC (image-format.md)
                    next = rec.offset() + 8 + 16 + pages.data().remaining() + 4;
                    at.putIfAbsent("after first PAGES", next);
                }
            }
            at.put("END", next);
        }
        assertNotNull(at.get("first PAGES"), "the image has pages");
        return at;
    }

    private static byte[] flip(byte[] image, long offset) {
        byte[] copy = image.clone();
        copy[(int) offset] ^= 0x10;
        return copy;
    }

    /** A restore from a pipe on a thread of its own, running while the checkpoint writes into the pipe. */
    private record PipeRestore(Pipe pipe, Thread thread, AtomicReference<RestoreReport> restored, AtomicReference<Throwable> failure) {
        static PipeRestore start() throws java.io.IOException {
            Pipe pipe = Pipe.open();
            AtomicReference<RestoreReport> restored = new AtomicReference<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            // ptrace binds the restored process to the thread that restores it: resume it there too
            Thread thread = new Thread(() -> {
                try (RestoredProcess copy = new RestoreEngine().restore(pipe.source(), "pipe", new RestoreOptions(true))) {
                    copy.resume();
                    restored.set(copy.report());
                } catch (Throwable t) {
                    failure.set(t);
                } finally {
                    try {
                        pipe.source().close(); // a failed restore stops the checkpoint's writes instead of blocking them
                    } catch (java.io.IOException ignored) {
                        // closing a pipe end does not fail
                    }
                }
            }, "stream-restore");
            thread.start();
            return new PipeRestore(pipe, thread, restored, failure);
        }

        Pipe.SinkChannel sink() {
            return pipe.sink();
        }

        /** The running copy's report once the restore ended; a failed restore aborts {@code frozen} and fails. */
        RestoreReport await(FrozenCheckpoint frozen) throws InterruptedException {
            thread.join(60_000);
            assertFalse(thread.isAlive(), "the restore thread did not finish");
            if (failure.get() != null) {
                frozen.abort();
                throw new AssertionError("restore from the pipe failed", failure.get());
            }
            return restored.get();
        }
    }
}
