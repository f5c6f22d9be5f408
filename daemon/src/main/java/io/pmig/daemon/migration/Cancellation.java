package io.pmig.daemon.migration;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The cancel switch of a migration leaving this node ({@code pmig migrate --cancel ID}, or its
 * caller gone: Ctrl-C). Until the commit begins, a cancel makes the migration's thread fail at
 * its next step, and whatever it blocks on (the image stream) give up at once; the usual abort
 * then rolls everything back. Once the commit has begun, the migration completes.
 */
final class Cancellation {
    /** Thrown on the migration's thread at the first step after a cancel. */
    static final class Cancelled extends RuntimeException {
        Cancelled(String reason) {
            super(reason);
        }
    }

    private final int callerUid;
    private final CompletableFuture<Void> ended = new CompletableFuture<>();
    private String reason;
    private boolean committing;
    private Runnable interrupt = () -> { };

    Cancellation(int callerUid) {
        this.callerUid = callerUid;
    }

    /** Who started the migration: that user or root may cancel it. */
    int callerUid() {
        return callerUid;
    }

    /** Cancels, unless the commit has begun (then false: the migration completes). */
    boolean cancel(String why) {
        Runnable action;
        synchronized (this) {
            if (committing) {
                return false;
            }
            if (reason != null) {
                return true;
            }
            reason = why;
            action = interrupt;
        }
        action.run();
        return true;
    }

    /** What a cancel also does to the step in progress (abort the image stream); runs at once if cancelled already. */
    void onCancel(Runnable action) {
        boolean now;
        synchronized (this) {
            interrupt = action;
            now = reason != null;
        }
        if (now) {
            action.run();
        }
    }

    /** Throws {@link Cancelled} if the migration was cancelled. */
    synchronized void check() {
        if (reason != null) {
            throw new Cancelled(reason);
        }
    }

    /** The last moment to cancel: throws {@link Cancelled} if cancelled, else no cancel counts from now on. */
    synchronized void beginCommit() {
        check();
        committing = true;
    }

    /** Why it was cancelled, or null. */
    synchronized String reason() {
        return reason;
    }

    /** The migration ended, whichever way. */
    void ended() {
        ended.complete(null);
    }

    /** Waits until the migration ended (its rollback done); false if it took longer than {@code limit}. */
    boolean awaitEnd(Duration limit) throws InterruptedException {
        try {
            ended.get(limit.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot happen: completed with null only", e);
        }
    }
}
