package io.pmig.checkpoint;

import io.pmig.checkpoint.cgroup.ServiceCgroup;
import io.pmig.checkpoint.fd.RestoreContext;
import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.ipc.SysvObjects;
import io.pmig.checkpoint.memory.MappingImage;
import io.pmig.checkpoint.memory.MemoryRestorer;
import io.pmig.checkpoint.precopy.RoundImage;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestorerBinary;
import io.pmig.checkpoint.task.ThreadImage;
import io.pmig.checkpoint.tree.TimeNamespaces;

import java.io.UncheckedIOException;
import java.nio.channels.ReadableByteChannel;
import java.util.List;

/**
 * The destination side of a pre-copy (staged) migration: the restored process exists from the first
 * round on, stopped inside the restorer, and each round's layout changes and pages go straight into
 * it as they arrive; {@link #finish} applies the last part (its pages, task state, descriptors,
 * sockets) and returns the process complete and stopped, like {@link RestoreEngine#restore(ReadableByteChannel,
 * String, RestoreOptions)}. A round or last part that fails (stream cut or corrupt, a file changed)
 * kills the half-built process, silently for its peers, and ends the target; so does {@link #abort()}.
 *
 * <p>Must be used on the thread that created it (the process's ptrace tracer).
 */
public final class PrecopyTarget implements AutoCloseable {
    private final RestoredProcess restored;
    private final String source;
    private final int imagePid;
    /** The process lives in a PID namespace of its own, made again here (see ProcessImage). */
    private final boolean ownPidNamespace;
    private final long start;
    /** The cgroup of its own the process was put in when it was launched; the last part's limits go there. */
    private ServiceCgroup cgroup;
    private List<MappingImage> layout;
    private int rounds;
    private long pageBytes;
    private boolean ended;

    private PrecopyTarget(RestoredProcess restored, String source, int imagePid, boolean ownPidNamespace, long start) {
        this.restored = restored;
        this.source = source;
        this.imagePid = imagePid;
        this.ownPidNamespace = ownPidNamespace;
        this.start = start;
    }

    static PrecopyTarget prepare(StreamImageSource image, RestoreOptions options) {
        long start = System.nanoTime();
        RoundImage round = roundOf(image, 1, false);
        List<MappingImage> mappings = mappingsOf(image);
        RestoreEngine.requireSameFiles(mappings);
        long hole = MemoryRestorer.chooseHole(mappings, Puppet.HOLE_SIZE);
        boolean newPidNamespace = options.withNewPidNamespaceIf(round.ownPidNamespace()).newPidNamespace();
        Puppet puppet = Puppet.launch(RestorerBinary.path(), round.pid(), hole, newPidNamespace, options.newPidNamespaceIfTaken(),
            round.clocks());
        PrecopyTarget target = new PrecopyTarget(new RestoredProcess(puppet, new RestoreContext()), image.name(), round.pid(),
            round.ownPidNamespace(), start);
        RestoreEngine.killOnFailure(target.restored, target.source, () -> {
            puppet.blockAllSignals();
            target.cgroup = RestoreEngine.placeInOwnCgroup(puppet, round.exe());
            MemoryRestorer.moveKernelMappings(puppet, mappings);
            MemoryRestorer.createMappings(puppet, mappings);
            target.pageBytes += image.writePages(puppet);
        });
        target.layout = mappings;
        target.rounds = 1;
        return target;
    }

    /** The restored process as this host sees it (differs from the image's with a new PID namespace). */
    public int pid() {
        return restored.pid();
    }

    /** Rounds applied so far. */
    public int rounds() {
        return rounds;
    }

    /** Bytes of page data written into the process so far, over all rounds. */
    public long pageBytes() {
        return pageBytes;
    }

    /**
     * Applies the next round read from {@code in}: the new layout (mappings gone are unmapped, new or
     * replaced ones mapped afresh, kept ones keep their pages), the pages to drop, then its pages.
     * Returns the bytes of page data it wrote.
     */
    public long receiveRound(ReadableByteChannel in) {
        requireOpen("receive a round");
        StreamImageSource image = open(in);
        long[] written = new long[1];
        run(() -> {
            RoundImage round = roundOf(image, rounds + 1, false);
            List<MappingImage> mappings = mappingsOf(image);
            MemoryRestorer.changeLayout(restored.puppet(), layout, mappings);
            layout = mappings;
            MemoryRestorer.drop(restored.puppet(), layout, round.drop());
            written[0] = image.writePages(restored.puppet());
        });
        pageBytes += written[0];
        rounds++;
        return written[0];
    }

    /**
     * Applies the last part read from {@code in} and finishes the restore as a bundle restore would
     * (with {@code options.beforeSocketsGoLive()}), returning the process complete and stopped for the
     * caller to resume or kill. Its report's time runs from the first round.
     */
    public RestoredProcess finish(ReadableByteChannel in, RestoreOptions options) {
        requireOpen("finish");
        StepTimer steps = new StepTimer();
        StreamImageSource image = open(in);
        steps.lap("objects");
        run(() -> {
            RoundImage round = roundOf(image, rounds + 1, true);
            RestoreEngine.FullImage full = RestoreEngine.FullImage.of(image);
            // a file only held open travels in the last part, recreated before the descriptors; a mapped one in no round
            full.mappings().stream().filter(m -> m.carried() != null).findFirst().ifPresent(m -> {
                throw new RefusedException("the process mapped " + m.name() + " during its pre-copy, a file whose contents travel"
                    + " in the image, which pre-copy does not carry in its rounds yet; migrate it in bundle mode");
            });
            SysvObjects.refuseIn(image.objects(), "pre-copy");
            if (full.process().pid() != imagePid || full.process().ownPidNamespace() != ownPidNamespace) {
                throw new ImageException(ImageException.Reason.CORRUPT, source, "the last part is of process " + full.process().pid()
                    + (full.process().ownPidNamespace() ? " in a PID namespace of its own" : "") + ", the rounds before of process "
                    + imagePid + (ownPidNamespace ? " in a PID namespace of its own" : ""));
            }
            // the process exists: its namespace is decided, and a thread id taken here now is a refusal
            RestoreEngine.preflight(image.objects(), full, new RestoreOptions(restored.inNewPidNamespace()),
                full.threads().stream().map(ThreadImage::tid).toList(), true);
            RestoreEngine.requireSameXsave(restored.puppet(), image.header());
            cgroup.apply(full.process().cgroupLimits());
            steps.lap("preflight");
            MemoryRestorer.changeLayout(restored.puppet(), layout, full.mappings());
            layout = full.mappings();
            MemoryRestorer.drop(restored.puppet(), layout, round.drop());
            steps.lap("layout");
            pageBytes += image.writePages(restored.puppet());
            steps.lap("pages");
            TimeNamespaces.awaitClocksPast(restored.pid(), full.process().clocks());
            restored.context().recreatedFiles().recreate(image.objects());
            RestoreEngine.complete(restored, image, full, pageBytes, options, start, steps);
        });
        ended = true;
        rounds++;
        return restored;
    }

    /** Kills the half-built process; nothing of it is left. */
    public void abort() {
        if (!ended) {
            ended = true;
            restored.kill();
        }
    }

    /** Aborts unless {@link #finish} handed the process over. */
    @Override
    public void close() {
        abort();
    }

    private StreamImageSource open(ReadableByteChannel in) {
        try {
            return RestoreEngine.openStream(in, source);
        } catch (RuntimeException e) {
            abort();
            throw new FailedException(e.getMessage() + "; the half-restored process " + restored.pid() + " was killed", e);
        }
    }

    /** A step on the half-built process; if it fails, the process is killed and this target ends. */
    private void run(RestoreEngine.RestoreStep step) {
        try {
            RestoreEngine.killOnFailure(restored, source, step);
        } catch (RuntimeException | Error e) {
            ended = true;
            throw e;
        }
    }

    /** The image's round object: it must be round {@code number}, the last part or not as expected, of this protocol. */
    private static RoundImage roundOf(ImageSource image, int number, boolean last) throws RefusedException {
        RoundImage round;
        try {
            round = image.objects().one(RoundImage.class);
        } catch (ImageException e) {
            throw new RefusedException(image.name() + " is not a round of a pre-copy stream (" + e.getMessage() + ")", e);
        } catch (UncheckedIOException e) {
            throw new RefusedException(e.getCause().getMessage(), e.getCause());
        }
        if (round.protocol() != RoundImage.PROTOCOL) {
            throw new RefusedException(image.name() + " speaks pre-copy protocol " + round.protocol() + "; this pmig speaks "
                + RoundImage.PROTOCOL + " (update both nodes to the same pmig)");
        }
        if (round.round() != number || round.last() != last) {
            throw new RefusedException(image.name() + " sent " + (round.last() ? "the last part" : "round " + round.round())
                + " where " + (last ? "the last part" : "round " + number) + " was expected");
        }
        return round;
    }

    private static List<MappingImage> mappingsOf(ImageSource image) {
        try {
            return image.objects().all(MappingImage.class);
        } catch (UncheckedIOException e) {
            throw new RefusedException(e.getCause().getMessage(), e.getCause());
        }
    }

    private void requireOpen(String what) {
        if (ended) {
            throw new IllegalStateException("cannot " + what + " of the pre-copy into process " + restored.pid()
                + ": it was finished or aborted");
        }
    }
}
