package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.cgroup.ServiceCgroup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A restored process runs in a cgroup of its own, pmig/EXE-PID, in the v2 hierarchy and in systemd's v1 one where the host
 * has it — not in the restoring process's (a daemon's service unit, which systemd would stop with the daemon); so does the
 * init of its PID namespace. A limit this host could not hold is refused.
 */
@Timeout(60)
class ServiceCgroupTest extends ItSupport {
    private static final Path UNIFIED = Files.isRegularFile(Path.of("/sys/fs/cgroup/cgroup.controllers"))
        ? Path.of("/sys/fs/cgroup") : Path.of("/sys/fs/cgroup/unified");

    @BeforeEach
    void rootAndCgroupV2() {
        assumeRoot();
        assumeTrue(Files.isRegularFile(UNIFIED.resolve("cgroup.controllers")), "no cgroup v2 hierarchy on this host");
    }

    @Test
    void aRestoredProcessRunsInACgroupOfItsOwn() throws Exception {
        TestProgram p = startReady("mem");
        String before = cgroupLine(p.pid(), "0::");
        checkpoint(p, imageDir("1"), false);
        restore(p, imageDir("1"));
        String leaf = "/pmig/mem-" + p.pid();
        assertEquals("0::" + leaf, cgroupLine(p.pid(), "0::"), "the restored process's v2 cgroup (the original's was " + before + ")");
        if (Files.isRegularFile(Path.of("/sys/fs/cgroup/systemd/cgroup.procs"))) {
            assertTrue(cgroupLine(p.pid(), "name=systemd:").endsWith(":" + leaf), "systemd's v1 hierarchy: "
                + cgroupLine(p.pid(), "name=systemd:"));
        }
        assertFalse(cgroupLine((int) ProcessHandle.current().pid(), "0::").equals("0::" + leaf), "this JVM stays where it was");
        goExpectPassAndExit(p);
    }

    @Test
    void theInitOfItsPidNamespaceGoesWithIt() throws Exception {
        TestProgram p = startReady("mem");
        checkpoint(p, imageDir("1"), true);
        int copy = new RestoreEngine().restore(imageDir("1"), new RestoreOptions(true)).pid();
        try {
            int init = Integer.parseInt(status(copy, "PPid"));
            assertEquals(cgroupLine(copy, "0::"), cgroupLine(init, "0::"), "the namespace's init shares its process's cgroup");
            assertEquals("0::/pmig/mem-" + copy, cgroupLine(copy, "0::"));
        } finally {
            ProcessHandle.of(copy).ifPresent(ProcessHandle::destroyForcibly);
        }
        goExpectPassAndExit(p);
    }

    @Test
    void aLimitWhoseControllerThisHostLacksIsRefused() throws IOException {
        List<String> controllers = List.of(Files.readString(UNIFIED.resolve("cgroup.controllers")).strip().split(" "));
        Map<String, String> limits = Map.of("memory.max", "1073741824");
        if (controllers.contains("memory")) {
            assertDoesNotThrow(() -> ServiceCgroup.requireApplicable(limits));
        } else {
            RefusedException e = assertThrows(RefusedException.class, () -> ServiceCgroup.requireApplicable(limits));
            assertTrue(e.getMessage().contains("memory.max to 1073741824") && e.getMessage().contains("no memory controller"),
                e.getMessage());
        }
        assertDoesNotThrow(() -> ServiceCgroup.requireApplicable(Map.of()));
    }

    private static String cgroupLine(int pid, String prefix) throws IOException {
        return Files.readAllLines(Path.of("/proc", Integer.toString(pid), "cgroup")).stream()
            .filter(l -> l.startsWith(prefix) || l.contains(":" + prefix)).findFirst().orElse("none");
    }

    private static String status(int pid, String field) throws IOException {
        return Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status")).stream()
            .filter(l -> l.startsWith(field + ":")).map(l -> l.substring(field.length() + 1).strip()).findFirst().orElseThrow();
    }
}
