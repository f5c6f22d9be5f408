package io.pmig.checkpoint.fd;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.pmig.checkpoint.nativeio.PmigTcpState;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

/**
 * Without pmig.ko (the development kernel has no module support) the engine reads each TCP socket with
 * the getsockopts: the module's reading is absent, not an error. With the module, PmigModuleVmTest
 * (test-vm) checks the reading against the getsockopts.
 */
class TcpStateFromModuleTest {
    @Test
    void withoutTheModuleThereIsNoReadingAndNoError() {
        assumeFalse(Files.exists(Path.of("/dev/pmig")), "pmig.ko is loaded on this host");
        assertNull(PmigTcpState.read((int) ProcessHandle.current().pid()));
    }
}
