package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.PrecopyOptions;
import io.pmig.checkpoint.PrecopySource;
import io.pmig.checkpoint.PrecopyTarget;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.memory.VdsoProxy;
import io.pmig.checkpoint.proc.MapsEntry;
import io.pmig.checkpoint.proc.ProcFs;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The vdso proxy of a restore across kernels, on one kernel: {@link VdsoProxy#DEBUG_FORCE} makes the restore treat this
 * kernel's vdso as another's, so the process's old vdso is put back as a proxy jumping to the kernel's, moved elsewhere.
 * The vdso_clocks program calls every vdso function through the addresses it looked up before the checkpoint and checks
 * the answers against the system calls. test-vm's VdsoVmTest moves it between two kernels for real.
 */
class VdsoProxyRestoreTest extends ItSupport {
    @BeforeEach
    void root() {
        assumeRoot();
    }

    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void theProcessRunsOnThroughAProxyOfItsVdsoAndMovesOnWithIt() throws Exception {
        TestProgram p = startReady("vdso_clocks");
        Map<String, MapsEntry> before = kernelMappings(p.pid());
        checkpoint(p, imageDir("1"), false);
        System.setProperty(VdsoProxy.DEBUG_FORCE, "true");
        try {
            restore(p, imageDir("1"));
        } finally {
            System.clearProperty(VdsoProxy.DEBUG_FORCE);
        }
        Map<String, MapsEntry> proxied = kernelMappings(p.pid());
        MapsEntry oldVdso = before.get("[vdso]");
        MapsEntry proxy = mappingAt(p.pid(), oldVdso.start());
        assertEquals("r-xp " + oldVdso.end() + " ", proxy.perms() + " " + proxy.end() + " " + proxy.path(),
            "the old vdso is back at its place as ordinary memory");
        assertNotEquals(oldVdso.start(), proxied.get("[vdso]").start(), "this kernel's vdso is elsewhere");
        for (MapsEntry vvar : before.values()) {
            if (vvar != oldVdso) {
                assertEquals("---p", mappingAt(p.pid(), vvar.start()).perms(), "the image's " + vvar.path() + " is reserved with no access");
            }
        }
        // the same kernel's vdso again: moved where the image had it, the proxy travelling as the process's memory
        checkpoint(p, imageDir("2"), false);
        restore(p, imageDir("2"));
        assertEquals(proxied.get("[vdso]").start(), kernelMappings(p.pid()).get("[vdso]").start(), "the same vdso goes where it was");
        assertEquals("r-xp", mappingAt(p.pid(), oldVdso.start()).perms(), "the proxy came along");
        assertPass(p, p.goAndAwaitResult());
    }

    /** A pre-copy builds the proxy with its first round; the rounds after and the last part leave it and the old vvar be. */
    @Test
    @Timeout(value = 90, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aPrecopyKeepsTheProxyThroughItsRounds() throws Exception {
        TestProgram p = startReady("vdso_clocks");
        Map<String, MapsEntry> before = kernelMappings(p.pid());
        try (PrecopySource session = new CheckpointEngine().precopy(p.pid(), PrecopyOptions.defaults())) {
            ByteArrayOutputStream round = new ByteArrayOutputStream();
            session.sendRound(Channels.newChannel(round));
            System.setProperty(VdsoProxy.DEBUG_FORCE, "true");
            PrecopyTarget target;
            try {
                target = new RestoreEngine().prepareInAdvance(Channels.newChannel(new ByteArrayInputStream(round.toByteArray())),
                    "round 1", new RestoreOptions(true));
            } finally {
                System.clearProperty(VdsoProxy.DEBUG_FORCE);
            }
            try (target) {
                round.reset();
                session.sendRound(Channels.newChannel(round));
                target.receiveRound(Channels.newChannel(new ByteArrayInputStream(round.toByteArray())));
                ByteArrayOutputStream last = new ByteArrayOutputStream();
                FrozenCheckpoint frozen = session.finish(Channels.newChannel(last), CheckpointOptions.defaults());
                int copy;
                try (RestoredProcess restored = target.finish(Channels.newChannel(new ByteArrayInputStream(last.toByteArray())),
                        new RestoreOptions(true))) {
                    copy = restored.pid();
                    assertEquals("r-xp ", mappingAt(copy, before.get("[vdso]").start()).perms() + " "
                        + mappingAt(copy, before.get("[vdso]").start()).path(), "the proxy at the old vdso's place");
                    assertEquals("---p", mappingAt(copy, before.get("[vvar]").start()).perms(), "the old vvar reserved");
                    restored.resume();
                }
                commitAndExpectPassOfCopy(p, frozen, copy);
            }
        }
    }

    private static Map<String, MapsEntry> kernelMappings(int pid) {
        return new ProcFs(pid).maps().stream().filter(MapsEntry::kernelSpecial).filter(e -> !e.path().equals("[vsyscall]"))
            .collect(Collectors.toMap(MapsEntry::path, Function.identity()));
    }

    private static MapsEntry mappingAt(int pid, long address) {
        return new ProcFs(pid).maps().stream().filter(e -> e.start() <= address && address < e.end()).findFirst()
            .orElseThrow(() -> new AssertionError("nothing mapped at 0x" + Long.toHexString(address) + " in process " + pid));
    }
}
