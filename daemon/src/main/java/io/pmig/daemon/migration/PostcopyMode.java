package io.pmig.daemon.migration;

import java.util.Locale;

/**
 * When a staged migration lets the copy run before every page arrived (docs/pmigd.md, "Post-copy"): {@code never} (the
 * default: the service never depends on two nodes at once), {@code auto} when the rounds stopped shrinking or ran out
 * (a writer that never converges; a converged process freezes little anyway), {@code always} after the rounds.
 */
enum PostcopyMode {
    NEVER, AUTO, ALWAYS;

    static final PostcopyMode DEFAULT = NEVER;

    static PostcopyMode parse(String text) {
        for (PostcopyMode m : values()) {
            if (m.text().equals(text)) {
                return m;
            }
        }
        throw new IllegalArgumentException("postcopy '" + text + "' is none of never, auto, always");
    }

    String text() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the last part after rounds that {@code converged} (or did not) leaves the hot pages behind. */
    boolean chosen(boolean converged) {
        return this == ALWAYS || this == AUTO && !converged;
    }
}
