package io.pmig.daemon.migration;

import io.pmig.vip.VipManager;
import io.pmig.vip.VipSettings;

/**
 * The daemon's VIP manager for its configured interface, opened at the first migration that moves
 * a VIP (opening installs the hold rules and starts the capture) and kept until the daemon stops.
 */
final class NodeVips implements AutoCloseable {
    private final String iface;
    private VipManager manager;

    NodeVips(String iface) {
        this.iface = iface;
    }

    synchronized VipManager get() {
        if (manager == null) {
            manager = VipManager.open(iface, VipSettings.DEFAULT);
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
