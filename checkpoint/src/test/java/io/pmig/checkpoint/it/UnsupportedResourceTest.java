package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.RefusedException;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A process holding a resource the engine cannot carry (a netlink socket, a seccomp filter) is refused in
 * pre-flight, naming the resource, and keeps running untouched: it still passes afterwards.
 */
class UnsupportedResourceTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    /** Each program, the word its refusal must name, and whether the checkpoint was asked to leave it running. */
    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("unsupported_netlink", "netlink"),
                Arguments.of("unsupported_seccomp", "seccomp"),
                Arguments.of("unsupported_lease", "lease"),
                Arguments.of("unsupported_deleted_cwd", "deleted"),
                Arguments.of("unsupported_restart_syscall", "restart_syscall"),
                Arguments.of("unsupported_epoll_elsewhere", "epoll"),
                Arguments.of("unsupported_epoll_oneshot", "one-shot"),
                Arguments.of("unsupported_udp_corked", "udp_cork"),
                Arguments.of("unsupported_unix_relative", "relative path ctl"),
                Arguments.of("unsupported_pidfd_other", "pidfd"),
                Arguments.of("unsupported_ns_other", "uts namespace"),
                Arguments.of("unsupported_aio", "aio context"),
                Arguments.of("unsupported_tcp_error", "pending error"))
            .flatMap(a -> Stream.of(false, true).map(leaveRunning -> Arguments.of(a.get()[0], a.get()[1], leaveRunning)));
    }

    @ParameterizedTest(name = "{0} is refused naming {1} (leaveRunning={2}), program keeps running")
    @MethodSource("refusals")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void refusedNaming(String program, String resource, boolean leaveRunning) throws Exception {
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
