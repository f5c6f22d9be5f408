package io.pmig.daemon.migration;

import io.pmig.checkpoint.dirty.PageSet;
import io.pmig.checkpoint.postcopy.PageServer;
import io.pmig.checkpoint.postcopy.PostcopyReport;
import io.pmig.daemon.config.FaultPause;
import io.pmig.daemon.peer.InboundStream;
import io.pmig.daemon.peer.Message;
import io.pmig.daemon.peer.OutboundStream;
import io.pmig.daemon.peer.PeerSession;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The page links of post-copy migrations (docs/pmigd.md, "Post-copy"): two peer streams per migration, opened once the
 * source chose post-copy for the last part. {@link MigrationProtocol#PAGES}, source to destination, carries the pages
 * left behind; {@link MigrationProtocol#PAGE_REQUESTS}, destination to source, the copy's requests. Each side's handler
 * meets its migration here by id (whichever comes first waits for the other) and keeps the stream open until the
 * post-copy ends: a stream ends with its handler.
 */
final class PostcopyLinks {
    private static final long MEET_SECONDS = IncomingMigration.DECISION_TIMEOUT_SECONDS;

    private final Map<String, Serving> servings = new ConcurrentHashMap<>();
    private final Map<String, Arrival> arrivals = new ConcurrentHashMap<>();

    /** The source's side of one migration's post-copy: its page server, run by the requests stream's handler. */
    static final class Serving {
        /** The frozen original and the pages its last part left behind, once it went out. */
        private final CompletableFuture<Left> left = new CompletableFuture<>();
        private final CompletableFuture<PostcopyReport> served = new CompletableFuture<>();
        private final CompletableFuture<Void> copyRuns = new CompletableFuture<>();
        private final FaultPause pause;
        private volatile OutboundStream pages;

        Serving(FaultPause pause) {
            this.pause = pause;
        }

        /** The destination answered the commit: the copy runs. */
        void copyRuns() {
            copyRuns.complete(null);
        }

        /**
         * The page server, answering the destination's faults at once but holding its push until the copy runs (and the
         * pause is over if a fault test pauses there): a push that began with the last part took both nodes' cores and the
         * link from the destination's restore and the commit's messages (a 512 MB write loop's commit took 150 ms).
         */
        private PageServer server(Left left, InboundStream requests) {
            PageServer server = new PageServer(left.pid(), left.pages(), requests, pages);
            if (pause.point() != FaultPause.Point.POSTCOPY) {
                return server.holdingPushUntil(copyRuns::isDone);
            }
            AtomicBoolean paused = new AtomicBoolean();
            return server.holdingPushUntil(() -> {
                if (!copyRuns.isDone()) {
                    return false;
                }
                if (paused.compareAndSet(false, true)) {
                    pause.pauseAt(FaultPause.Point.POSTCOPY);
                }
                return true;
            });
        }

        /** The pages stream, opened before the last part (the destination waits for it before it reads the last part on). */
        void pagesOpened(OutboundStream pages) {
            this.pages = pages;
        }

        /** The last part went out: the frozen original {@code pid} serves {@code left} once the destination asks. */
        void ready(int pid, PageSet left) {
            this.left.complete(new Left(pid, left));
        }

        /** Waits for the post-copy to end: the source's report, or the failure (the link lost, the original unreadable). */
        PostcopyReport awaitEnd() throws InterruptedException, ExecutionException {
            return served.get();
        }

        /** Ends a post-copy that will not run (the migration is rolled back before the copy ran). */
        void cancel(String why) {
            left.completeExceptionally(new IllegalStateException(why));
            if (pages != null) {
                pages.abort(why);
            }
        }
    }

    private record Left(int pid, PageSet pages) {
    }

    /** The destination's side: the pages stream as it arrives, and the post-copy's end that its handler answers with. */
    static final class Arrival {
        private final CompletableFuture<InboundStream> pages = new CompletableFuture<>();
        private final CompletableFuture<PostcopyReport> ended = new CompletableFuture<>();

        /** The source's pages stream, waited for at most the decision timeout. */
        InboundStream pages() throws IOException {
            try {
                return pages.get(MEET_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException | ExecutionException e) {
                throw new IOException("the source opened no page stream for the post-copy within " + MEET_SECONDS + " s", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the post-copy's page stream", e);
            }
        }

        void ended(PostcopyReport report) {
            ended.complete(report);
        }

        void failed(Throwable why) {
            ended.completeExceptionally(why);
        }
    }

    /** Source: registers a post-copy about to be chosen for migration {@code id} ({@code pause}: a fault test's). */
    Serving serve(String id, FaultPause pause) {
        Serving s = new Serving(pause);
        servings.put(id, s);
        return s;
    }

    /** Source: the migration ended, whatever became of its post-copy. */
    void forgetServing(String id) {
        servings.remove(id);
    }

    /** Destination: the migration's last part leaves pages behind; its pages stream arrives (or arrived) here. */
    Arrival arrival(String id) {
        return arrivals.computeIfAbsent(id, k -> new Arrival());
    }

    /** Source, the handler of {@link MigrationProtocol#PAGE_REQUESTS}: serves the pages until the destination has them all. */
    Message serveRequests(PeerSession peer, Message header, InboundStream requests) throws Exception {
        String id = header.bodyAs(MigrationProtocol.Id.class).id();
        Serving s = servings.get(id);
        if (s == null) {
            throw new IllegalStateException("no post-copy of migration " + id + " leaves this node");
        }
        Left left;
        try {
            left = s.left.get(MEET_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("the post-copy of migration " + id + " will not run: " + e.getCause().getMessage());
        }
        try {
            PostcopyReport report = s.server(left, requests).serve();
            s.served.complete(report);
            return Message.json("migrate.pages-served", report);
        } catch (RuntimeException e) {
            s.served.completeExceptionally(e);
            throw e;
        }
    }

    /** Destination, the handler of {@link MigrationProtocol#PAGES}: hands the stream over and answers once the post-copy ended. */
    Message receivePages(PeerSession peer, Message header, InboundStream pages) throws Exception {
        String id = header.bodyAs(MigrationProtocol.Id.class).id();
        Arrival a = arrival(id);
        a.pages.complete(pages);
        try {
            return Message.json("migrate.pages-placed", a.ended.get());
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } finally {
            arrivals.remove(id, a);
        }
    }
}
