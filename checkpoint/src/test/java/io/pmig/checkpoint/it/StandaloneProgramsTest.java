package io.pmig.checkpoint.it;

import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every test program passes on its own, with no checkpoint at all (go right after ready): the
 * programs' checks hold for an untouched process, so a FAIL after a restore is the engine's doing.
 * Needs no privileges.
 */
class StandaloneProgramsTest extends ItSupport {
    static Stream<String> allPrograms() {
        return Stream.concat(TestProgram.STATEFUL.stream(), TestProgram.UNSUPPORTED.stream());
    }

    @ParameterizedTest(name = "{0} passes without checkpoint")
    @MethodSource("allPrograms")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void passesWithoutCheckpoint(String name) throws Exception {
        TestProgram p = startReady(name);
        goExpectPassAndExit(p);
    }

    @ParameterizedTest(name = "{0} passes with a pause between ready and go")
    @MethodSource("io.pmig.checkpoint.it.ItSupport#statefulPrograms")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void passesAfterAPause(String name) throws Exception {
        TestProgram p = startReady(name);
        TestProgram.sleep(1500);
        goExpectPassAndExit(p);
    }
}
