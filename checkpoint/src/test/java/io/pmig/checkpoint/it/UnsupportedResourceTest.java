package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.RefusedException;
import java.util.Locale;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A process holding a resource the engine cannot carry (an inotify descriptor, a netlink socket, a seccomp filter, fewer capabilities than the restore gives) is refused in
 * pre-flight, naming the resource, and keeps running untouched: it still passes afterwards.
 */
class UnsupportedResourceTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @ParameterizedTest(name = "inotify refused (leaveRunning={0}), program keeps running")
    @ValueSource(booleans = {false, true})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void inotifyIsRefused(boolean leaveRunning) throws Exception {
        refusedNaming("unsupported_inotify", "inotify", leaveRunning);
    }

    @ParameterizedTest(name = "a netlink socket is refused (leaveRunning={0}), program keeps running")
    @ValueSource(booleans = {false, true})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void netlinkSocketIsRefused(boolean leaveRunning) throws Exception {
        refusedNaming("unsupported_netlink", "netlink", leaveRunning);
    }

    @ParameterizedTest(name = "a seccomp filter is refused (leaveRunning={0}), program keeps running")
    @ValueSource(booleans = {false, true})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void seccompFilterIsRefused(boolean leaveRunning) throws Exception {
        refusedNaming("unsupported_seccomp", "seccomp", leaveRunning);
    }

    @ParameterizedTest(name = "a reduced capability bounding set is refused (leaveRunning={0}), program keeps running")
    @ValueSource(booleans = {false, true})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void reducedCapabilitiesAreRefused(boolean leaveRunning) throws Exception {
        refusedNaming("unsupported_capabilities", "bounding capability set", leaveRunning);
    }

    private void refusedNaming(String program, String resource, boolean leaveRunning) throws Exception {
        TestProgram p = startReady(program);
        ProcSnapshot before = ProcSnapshot.of(p.pid());
        RefusedException e = assertThrows(RefusedException.class,
                () -> new CheckpointEngine().checkpoint(p.pid(), imageDir("1"), new CheckpointOptions(leaveRunning)));
        assertTrue(e.getMessage() != null && e.getMessage().toLowerCase(Locale.ROOT).contains(resource),
                "refusal does not name " + resource + ": " + e.getMessage());
        assertTrue(p.originalProcess().isAlive(), "the refused process died");
        assertRunningUntraced(p.pid(), "after the refused checkpoint");
        assertSameProcess(before, ProcSnapshot.of(p.pid()), "process after a refused checkpoint");
        goExpectPassAndExit(p);
    }
}
