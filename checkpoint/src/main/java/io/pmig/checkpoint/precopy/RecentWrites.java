package io.pmig.checkpoint.precopy;

import io.pmig.checkpoint.dirty.PageSet;

/**
 * The default forecast: each page by its own history ({@link PageHistory}, the decayed count of the slots it was
 * written in). A page is expected written again when it was written in at least {@link #MIN_RECENT_WRITES} slots
 * lately (a page written once, or reported once with a fresh mapping and then written, is never held) and its written
 * share of the slots, times the slots to come, reaches {@link #MIN_EXPECTED_WRITES} expected writes.
 */
public final class RecentWrites implements WriteForecast {
    /** A slot's write counts 0.95 one slot later: about the last half second weighs. */
    static final double DECAY = 0.95;
    /** Three slots with a write, undecayed: a page rewritten at least twice lately. */
    static final double MIN_RECENT_WRITES = 2.5;
    /**
     * Two writes expected while the round is sent (P(no write) = e^-2 = 14% for a page written at random): a page held
     * back and not written again lands in the last part if the rounds stop after this one, where plain pre-copy would
     * have sent it.
     */
    static final double MIN_EXPECTED_WRITES = 2;

    private final PageHistory history = new PageHistory(DECAY);

    @Override
    public void addSlot(PageSet written) {
        history.addSlot(written);
    }

    @Override
    public int slots() {
        return history.slots();
    }

    @Override
    public PageSet rewrittenWithin(PageSet candidates, double horizonSlots) {
        return WriteForecast.pagesWhere(candidates, page -> history.recentWrites(page) >= MIN_RECENT_WRITES
            && history.writtenShare(page) * horizonSlots >= MIN_EXPECTED_WRITES);
    }
}
