package io.pmig.daemon.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** When a staged migration's last part leaves the hot pages behind. */
class PostcopyModeTest {
    @Test
    void autoLeavesThemBehindOnlyWhenTheRoundsDidNotConverge() {
        assertTrue(PostcopyMode.AUTO.chosen(false));
        assertFalse(PostcopyMode.AUTO.chosen(true));
        assertTrue(PostcopyMode.ALWAYS.chosen(true));
        assertFalse(PostcopyMode.NEVER.chosen(false));
        assertEquals(PostcopyMode.NEVER, PostcopyMode.DEFAULT, "the service never depends on two nodes unless asked");
    }

    @Test
    void theOptionReadsAsWritten() {
        assertEquals(PostcopyMode.AUTO, PostcopyMode.parse("auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PostcopyMode.parse("sometimes"));
        assertTrue(e.getMessage().contains("never, auto, always"), e.getMessage());
    }
}
