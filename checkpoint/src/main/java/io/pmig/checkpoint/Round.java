package io.pmig.checkpoint;

/**
 * One round of a pre-copy, as the source saw it: {@code pagesSent} pages ({@code bytes} bytes on the
 * stream, framing included) in {@code nanos}; {@code pagesDirtied} pages written by the process while
 * the round was being sent (what the next round has to send, at least); {@code pagesDropped} pages the
 * receiver was told to drop; {@code pagesResent} of the pages sent had been sent by an earlier round
 * already (the cost of pre-copy over bundle); {@code pagesHeldBack} pages due in this round that the data
 * filter left out (written again while it was sent, or forecast to be), which the next round sends too (0 with
 * the filter off; the two counts overlap where the forecast was right).
 * {@code last}: the frozen last part (its {@code pagesDirtied} and {@code pagesHeldBack} are 0).
 */
public record Round(int number, boolean last, long pagesSent, long bytes, long nanos, long pagesDirtied, long pagesDropped,
                    long pagesResent, long pagesHeldBack) {
}
