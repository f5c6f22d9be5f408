package io.pmig.daemon.migration;

import io.pmig.vip.VipManager;
import io.pmig.vip.VipSettings;

/**
 * The daemon's VIP manager for its configured interface, opened at the first migration that moves
 * a VIP (opening installs the hold rules and starts the capture) and kept until the daemon stops.
 */
final class NodeVips implements AutoCloseable {
    private final String iface;
    private final VipSettings settings;
    private VipManager manager;

    NodeVips(String iface, VipSettings settings) {
        this.iface = iface;
        this.settings = settings;
    }

    synchronized VipManager get() {
        if (manager == null) {
            manager = VipManager.open(iface, settings);
        }
        return manager;
    }

    @Override
    public synchronized void close() {
        if (manager != null) {
            manager.close();
            manager = null;
        }
    }
}
