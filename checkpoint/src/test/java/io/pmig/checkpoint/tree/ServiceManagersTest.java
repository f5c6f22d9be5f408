package io.pmig.checkpoint.tree;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;

import org.junit.jupiter.api.Test;

/** Which processes are a systemd service's main process (this machine's PID 1 is no systemd: the decision alone). */
class ServiceManagersTest {
    @Test
    void aChildOfSystemdInAServiceUnitIsItsMainProcess() {
        assertEquals(Optional.of("nginx.service"), ServiceManagers.serviceUnit(1, "systemd", "/system.slice/nginx.service"));
        assertEquals(Optional.of("getty@tty1.service"), ServiceManagers.serviceUnit(1, "systemd", "/system.slice/system-getty.slice/getty@tty1.service"));
    }

    @Test
    void noMainProcessOutsideAServiceUnitOrUnderAnotherParentOrInit() {
        assertEquals(Optional.empty(), ServiceManagers.serviceUnit(812, "systemd", "/system.slice/nginx.service"), "a worker, or a shell's child");
        assertEquals(Optional.empty(), ServiceManagers.serviceUnit(1, "systemd", "/user.slice/user-0.slice/session-3.scope"), "a scope");
        assertEquals(Optional.empty(), ServiceManagers.serviceUnit(1, "systemd", "/pmig/web"), "started with pmig run");
        assertEquals(Optional.empty(), ServiceManagers.serviceUnit(1, "init", "/system.slice/nginx.service"), "another init");
        assertEquals(Optional.empty(), ServiceManagers.serviceUnit(1, "systemd", null), "no cgroup");
    }

    @Test
    void systemdsOwnHierarchyFirstOnAHybridHost() {
        assertEquals("/system.slice/redis-server.service",
            ServiceManagers.cgroupOf("12:pids:/system.slice/redis-server.service\n1:name=systemd:/system.slice/redis-server.service\n0::/\n"));
        assertEquals("/system.slice/nginx.service", ServiceManagers.cgroupOf("0::/system.slice/nginx.service\n"));
        assertEquals(null, ServiceManagers.cgroupOf("3:cpu:/\n"));
    }
}
