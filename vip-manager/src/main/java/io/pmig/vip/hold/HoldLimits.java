package io.pmig.vip.hold;

/**
 * How much a hold keeps before it lets packets go: a packet past either limit is not kept (the
 * hold's drop rule has already stopped it, so the client retransmits it after its timeout) and
 * is counted and logged. The defaults hold about a second of a busy gigabit link.
 */
public record HoldLimits(int maxPackets, long maxBytes) {
    public static final HoldLimits DEFAULT = new HoldLimits(65_536, 128L << 20);

    public HoldLimits {
        if (maxPackets < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("hold limits must be positive: " + maxPackets + " packets, " + maxBytes + " bytes");
        }
    }
}
