package io.pmig.vip;

import io.pmig.vip.hold.HoldLimits;
import io.pmig.vip.neighbour.Announcer;
import io.pmig.vip.neighbour.ArpProbe;

import java.time.Duration;

/**
 * How a node moves VIPs: the announcements after a VIP arrives (mode, how many rounds, how far
 * apart; the first goes out at once), what a hold may keep, and how long the destination listens
 * for another owner of the VIP before taking it.
 */
public record VipSettings(Announcer.Mode announceMode, int announcements, Duration announceInterval, HoldLimits holdLimits,
                          Duration probeTimeout) {
    public static final VipSettings DEFAULT = new VipSettings(Announcer.DEFAULT_MODE, Announcer.DEFAULT_COUNT,
        Announcer.DEFAULT_INTERVAL, HoldLimits.DEFAULT, ArpProbe.DEFAULT_TIMEOUT);

    public VipSettings {
        if (announcements < 1) {
            throw new IllegalArgumentException("announcements must be at least 1, not " + announcements);
        }
        if (announceInterval.isNegative() || probeTimeout.isNegative()) {
            throw new IllegalArgumentException("intervals must not be negative");
        }
    }
}
