package io.pmig.checkpoint.precopy;

import io.pmig.checkpoint.dirty.PageRange;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.task.ProcessImage;

import java.util.List;

/**
 * What makes an image one round of a pre-copy stream (image-format.md, "Pre-copy streams"): its
 * number, whether it is the last part (taken frozen, with the whole process state), the process it is
 * of (its pid as it sees it, whether it lives in a PID namespace of its own, see ProcessImage, and its executable,
 * which names the cgroup the receiver puts it in before the last part, and its clocks when the round was taken, which
 * the receiver's time namespace continues: see ProcessImage.Clocks), and the pages the receiver must drop because the process no longer has anything stored there
 * (written, then discarded or replaced by a fresh mapping: they read as zeros or as the file now).
 * The image's mapping objects are the whole layout at this round; its PAGES records overwrite what
 * earlier rounds sent. In a tree's round the root's image comes first and names the processes whose images follow it
 * ({@code members}, as they see their pids; empty for a process alone), and the first round's carries the tree itself.
 * {@code leftBehind}: in a last part with post-copy, the pages it leaves at the source (also in {@code drop}: the
 * receiver holds none of them), which the copy fetches as it runs (postcopy/); empty otherwise.
 */
@ImageKind("precopy-round")
public record RoundImage(int protocol, int round, boolean last, int pid, boolean ownPidNamespace, String exe, List<PageRange> drop,
                         ProcessImage.Clocks clocks, List<Integer> members, List<PageRange> leftBehind) {
    /**
     * Raised with any change to what a round means; a receiver accepts only its own. 2: the pid as the process sees it,
     * and ownPidNamespace; 3: clocks; 4: trees; 5: pages left behind.
     */
    public static final int PROTOCOL = 5;

    public RoundImage {
        leftBehind = leftBehind == null ? List.of() : List.copyOf(leftBehind);
    }
}
