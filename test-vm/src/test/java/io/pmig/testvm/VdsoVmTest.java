package io.pmig.testvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.FrozenCheckpoint;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;
import io.pmig.checkpoint.it.TestProgram;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restoring across kernels for real, in one test-vm guest on Debian's 6.1 kernel, whose vdso and vvar differ from the
 * host's (functions, build, vvar pages): the vdso_clocks program, checkpointed in the guest, runs on here through the
 * proxy of its old vdso, every vdso function checked against its system call; the other way, the host's image is
 * refused by the guest's emulated CPU, which lacks XSAVE features the host's has (AVX-512, AMX), naming them, before
 * anything of it runs. The guest hands its image over through the harness's run directory: it waits until this test
 * has taken it (io.pmig.checkpoint.it.VdsoGuest).
 */
class VdsoVmTest {
    private static final long GUEST_TIMEOUT_SECONDS = 300;
    @TempDir
    static Path tmp;
    private static String report;
    private static int guestStatus;
    private static byte[] guestImage;
    private static Path guestState;
    private static Path hostState;
    private static int restoredPid;

    @BeforeAll
    static void moveBothWays() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the test VM and the engine need root");
        Path share = Files.createDirectories(tmp.resolve("share"));
        // on tmpfs, so that the program's log travels in its image (a file on disk here would not be in the guest)
        hostState = Path.of("/dev/shm", "pmig-vdso-host-" + UUID.randomUUID());
        Files.write(share.resolve("host.image"), checkpointHere(hostState));
        guestState = Path.of("/tmp", "pmig-vdso-guest-" + UUID.randomUUID());   // the same path here when it comes back
        Path output = tmp.resolve("guest-output");
        Path runs = Files.createDirectories(tmp.resolve("runs"));
        GuestJvm vm = GuestJvm.start(GUEST_TIMEOUT_SECONDS, List.of(share), withoutCapabilitiesThisHostLacks(),
            "io.pmig.checkpoint.it.VdsoGuest", List.of(share.resolve("host.image").toString(), hostState.toString(),
                guestState.toString(), "/pmig-run"), runs, output);
        try {
            guestImage = takeTheGuestsImage(vm, runs);
        } finally {
            guestStatus = vm.await();
        }
        report = Files.readString(output, StandardCharsets.UTF_8);
        System.out.println("guest on Debian's 6.1 kernel:\n" + report);
    }

    @AfterAll
    static void killTheCopy() throws IOException {
        if (restoredPid > 0) {
            ProcessHandle.of(restoredPid).ifPresent(ProcessHandle::destroyForcibly);
        }
        for (Path state : new Path[] {guestState, hostState}) {
            if (state != null && Files.isDirectory(state)) {
                try (Stream<Path> files = Files.list(state)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        Files.delete(f);
                    }
                }
                Files.delete(state);
            }
        }
    }

    /**
     * setpriv dropping from the guest's bounding set the capabilities this host's lacks (a process holding one could
     * not be restored here, and is refused); none if it lacks none. Up to CAP_CHECKPOINT_RESTORE (40), the last the
     * guest's kernel knows.
     */
    private static List<String> withoutCapabilitiesThisHostLacks() throws IOException {
        String bounding = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("CapBnd:"))
            .map(l -> l.substring("CapBnd:".length()).trim()).findFirst().orElseThrow();
        long here = Long.parseUnsignedLong(bounding, 16);
        List<String> drop = new ArrayList<>();
        for (int cap = 0; cap <= 40; cap++) {
            if ((here & (1L << cap)) == 0) {
                drop.add("-cap_" + cap);
            }
        }
        return drop.isEmpty() ? List.of() : List.of("setpriv", "--bounding-set=" + String.join(",", drop));
    }

    @Test
    void theGuestDidItsPart() {
        assertEquals(0, guestStatus, "exit status of the guest's part; its report:\n" + report);
        assertTrue(result("kernel").startsWith("6.1."), "the guest's kernel: " + result("kernel"));
    }

    @Test
    void aProcessFromTheOlderKernelRunsOnHereThroughItsOldVdso() throws Exception {
        assertTrue(guestImage != null, "the guest left no image; its report:\n" + report);
        Files.createDirectories(guestState);
        try (RestoredProcess restored = new RestoreEngine().restore(Channels.newChannel(new ByteArrayInputStream(guestImage)),
                "the guest's image", new RestoreOptions(true))) {
            restored.resume();
            restoredPid = restored.pid();
        }
        Files.writeString(guestState.resolve("go"), "");
        String result = awaitResult(guestState, restoredPid);
        String log = Files.readString(guestState.resolve("log"));
        assertEquals("PASS", result, "vdso_clocks restored from the guest; its log:\n" + log);
        // the program's functions are where the guest's kernel put them, in the proxy, no longer in a [vdso]
        Optional<String> entry = log.lines().filter(l -> l.contains("clock_gettime's entry now in")).reduce((a, b) -> b);
        assertTrue(entry.isPresent() && entry.get().endsWith("r-xp "), "where clock_gettime's entry is now; log:\n" + log);
    }

    @Test
    void aProcessFromTheNewerCpuIsRefusedByTheOlderNamingWhatItLacks() throws IOException {
        String flags = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("flags")).findFirst().orElse("");
        assumeTrue(flags.contains(" avx512f"), "this host's CPU has no AVX-512, which QEMU's emulated CPU lacks");
        String answer = result("host image");
        assertTrue(answer.startsWith("refused: ") && answer.contains("XSAVE") && answer.contains("AVX-512"),
            "restoring the host's image in the guest: " + answer);
        assertFalse(answer.contains("vdso"), "the vdso is no reason to refuse: " + answer);
    }

    /** vdso_clocks checkpointed here, its image as a stream's bytes. */
    private static byte[] checkpointHere(Path state) throws Exception {
        try (TestProgram p = TestProgram.start("vdso_clocks", state)) {
            p.awaitReady();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (FrozenCheckpoint frozen = new CheckpointEngine().checkpoint(p.pid(), Channels.newChannel(out), CheckpointOptions.defaults())) {
                frozen.commit();
            }
            return out.toByteArray();
        }
    }

    /** The image the guest leaves in the run directory, taken as soon as it is there; the guest then ends. */
    private static byte[] takeTheGuestsImage(GuestJvm vm, Path runs) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GUEST_TIMEOUT_SECONDS);
        while (vm.isAlive() && System.nanoTime() < deadline) {
            try (Stream<Path> dirs = Files.list(runs)) {
                Optional<Path> take = dirs.map(d -> d.resolve("guest.image.take")).filter(Files::exists).findFirst();
                if (take.isPresent()) {
                    byte[] image = Files.readAllBytes(take.get().resolveSibling("guest.image"));
                    Files.delete(take.get());
                    return image;
                }
            }
            Thread.sleep(200);
        }
        return null;
    }

    private static String awaitResult(Path state, int pid) throws Exception {
        Path result = state.resolve("result");
        for (int i = 0; i < 6000; i++) {
            boolean alive = TestProgram.isAlive(pid); // before looking: it may write the result and exit meanwhile
            if (Files.exists(result) && Files.readString(result).endsWith("\n")) {
                return Files.readString(result).trim();
            }
            if (!alive) {
                return "the restored process " + pid + " died without a result";
            }
            Thread.sleep(10);
        }
        return "no result from the restored process " + pid;
    }

    private static String result(String name) {
        return report.lines().filter(l -> l.startsWith("RESULT " + name + ": ")).map(l -> l.substring(("RESULT " + name + ": ").length()))
            .findFirst().orElse("(no line 'RESULT " + name + "' in the guest's report)\n" + report);
    }
}
