package io.pmig.checkpoint.it;

import io.pmig.checkpoint.PrecopyTarget;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.postcopy.PostcopyReport;

import java.io.IOException;
import java.nio.channels.Pipe;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The destination of a staged move inside the test's JVM, as pmigd runs it: a thread of its own (the copy's ptrace
 * tracer) builds the copy from the rounds written on a pipe, in a PID namespace of its own (the original still runs
 * beside it), and resumes it after the last part. The source says before each image whether a round or the last part
 * follows.
 */
final class StagedDestination {
    private static final long JOIN_MILLIS = 60_000;

    private final Pipe pipe;
    /** With post-copy: the pages from the source, and the requests to it; null without. */
    private final Pipe pages;
    private final Pipe requests;
    private final AtomicReference<PostcopyReport> postcopy = new AtomicReference<>();
    private final AtomicReference<Integer> copyRoot = new AtomicReference<>();
    private final BlockingQueue<Boolean> nextIsLast = new LinkedBlockingQueue<>();
    private final AtomicReference<List<Integer>> copies = new AtomicReference<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Thread thread;

    private StagedDestination(Pipe pipe, Pipe pages, Pipe requests) {
        this.pipe = pipe;
        this.pages = pages;
        this.requests = requests;
        this.thread = new Thread(this::receive, "precopy-destination");
    }

    /** Starts the destination; the first round is to be written on {@link #sink()} next. */
    static StagedDestination start() throws IOException {
        StagedDestination d = new StagedDestination(Pipe.open(), null, null);
        d.thread.start();
        return d;
    }

    /**
     * Starts a destination that takes a last part leaving pages behind: it fetches them over a page link of two more
     * pipes ({@link #pagesToDestination()}, {@link #requestsFromDestination()}) while the copy runs, and ends when every
     * page is in place or the post-copy failed.
     */
    static StagedDestination startWithPostcopy() throws IOException {
        StagedDestination d = new StagedDestination(Pipe.open(), Pipe.open(), Pipe.open());
        d.thread.start();
        return d;
    }

    Pipe.SinkChannel pagesToDestination() {
        return pages.sink();
    }

    Pipe.SourceChannel requestsFromDestination() {
        return requests.source();
    }

    /** The copy's processes as soon as it was resumed (the post-copy may still run); null if it was not. */
    List<Integer> resumedCopy() {
        return copies.get();
    }

    /** The copy's root as this host sees it, from the first round on; null before. */
    Integer copyRoot() {
        return copyRoot.get();
    }

    /** Waits for the destination to end and returns its failure (null if none): a failed post-copy's, say. */
    Throwable awaitFailure() throws InterruptedException {
        thread.join(JOIN_MILLIS);
        if (thread.isAlive()) {
            throw new AssertionError("the destination did not finish");
        }
        return failure.get();
    }

    /** What the post-copy moved, once the destination ended; null without post-copy. */
    PostcopyReport postcopy() {
        return postcopy.get();
    }

    Pipe.SinkChannel sink() {
        return pipe.sink();
    }

    /** Another round follows the one sent. */
    void roundFollows() throws InterruptedException {
        nextIsLast.put(false);
    }

    /** The last part follows (or the source gave up: the destination stops at the end of the stream). */
    void lastPartFollows() throws InterruptedException {
        nextIsLast.put(true);
    }

    /** The source's failure, with the destination's (which may have caused it) attached. */
    RuntimeException withDestinationFailure(RuntimeException sourceFailure) throws InterruptedException {
        thread.join(JOIN_MILLIS);
        if (failure.get() != null) {
            sourceFailure.addSuppressed(failure.get());
        }
        return sourceFailure;
    }

    /** Waits for the copy and returns its processes as this host sees them, the root first; fails if it was not built. */
    List<Integer> awaitCopy() throws InterruptedException {
        thread.join(JOIN_MILLIS);
        if (thread.isAlive() || failure.get() != null) {
            throw new AssertionError("the staged restore failed" + (thread.isAlive() ? ": the destination did not finish" : ""),
                failure.get());
        }
        return copies.get();
    }

    private void receive() {
        try (PrecopyTarget target = new RestoreEngine().prepareInAdvance(pipe.source(), "pipe", new RestoreOptions(true))) {
            copyRoot.set(target.pid());
            while (!nextIsLast.take()) {
                target.receiveRound(pipe.source());
            }
            try (RestoredProcess copy = target.finish(pipe.source(), new RestoreOptions(true), pages == null ? null : pages.source(),
                    requests == null ? null : requests.sink())) {
                List<Integer> pids = copy.pids();
                try {
                    copy.resume();
                } catch (RuntimeException e) {
                    throw target.postcopy() == null ? e : target.postcopy().explained(e);
                }
                copies.set(pids);
            }
            if (target.postcopy() != null) {
                postcopy.set(target.postcopy().awaitEnd());
            }
        } catch (Throwable t) {
            failure.set(t);
        } finally {
            try {
                pipe.source().close(); // a failed destination stops the source's writes instead of blocking them
            } catch (IOException ignored) {
                // closing a pipe end does not fail
            }
        }
    }
}
