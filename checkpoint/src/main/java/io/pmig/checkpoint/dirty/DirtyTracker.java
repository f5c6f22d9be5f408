package io.pmig.checkpoint.dirty;

import java.util.List;

/**
 * Tells which pages of a running process were written, interval after interval: the basis of
 * pre-copy (copy everything, then what was written meanwhile, until little is left). Tracks the
 * mappings whose pages an image stores (anonymous, shared anonymous, private file). How far it
 * follows mappings created, moved or replaced while it runs depends on the method (see each); a
 * mapping reported whole may include pages never touched, which the copier skips (pagemap). Not
 * thread-safe; no thread of its own.
 */
public interface DirtyTracker extends AutoCloseable {
    /** "userfaultfd write-protect" or "soft-dirty", for reports. */
    String method();

    /**
     * The pages written since tracking began or since the previous call, in ascending runs, adjacent
     * runs merged; the next interval begins with this call.
     */
    default List<PageRange> written() {
        return written(false);
    }

    /**
     * Like {@link #written()}; {@code processFrozen}: the caller holds the process frozen with ptrace
     * already (a pre-copy's last part), so the tracker must not freeze it itself.
     */
    List<PageRange> written(boolean processFrozen);

    /** Stops tracking and leaves no trace in the process: no descriptor, no write protection, no flag. */
    @Override
    void close();
}
