package io.pmig.checkpoint.it;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoredProcess;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The guest's part of io.pmig.testvm.VdsoVmTest, on Debian's 6.1 kernel (another vdso than the host's). Args: the
 * host's image of vdso_clocks and that program's state directory (on tmpfs: its log travels in the image, and the
 * directory is made here), the state directory for the guest's own vdso_clocks, and the run directory the host
 * reads (the harness's /pmig-run). It restores the host's image, which this guest's CPU must refuse by the XSAVE
 * features it lacks, nothing created; then checkpoints its own vdso_clocks into the run directory for the host to
 * restore, and waits until the host has taken the image (it deletes the marker). Prints {@code RESULT name: text}
 * lines; exits with 1 if a step failed.
 */
public final class VdsoGuest {
    static final String IMAGE = "guest.image";
    static final String TAKE = "guest.image.take";
    private static final long TAKE_TIMEOUT_MILLIS = 300_000;

    private VdsoGuest() {
    }

    public static void main(String[] args) throws Exception {
        Path hostImage = Path.of(args[0]);
        Files.createDirectories(Path.of(args[1]));
        Path state = Path.of(args[2]);
        Path run = Path.of(args[3]);
        System.out.println("RESULT kernel: " + Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim());
        try (RestoredProcess restored = ItSupport.restoreFrom(Files.readAllBytes(hostImage), new RestoreOptions(true))) {
            System.out.println("RESULT host image: restored as " + restored.pid());
        } catch (RefusedException e) {
            System.out.println("RESULT host image: refused: " + e.getMessage());
        }
        System.out.flush();
        try (TestProgram p = TestProgram.start("vdso_clocks", state)) {
            p.awaitReady();
            byte[] image = ItSupport.checkpointIntoMemoryAndCommit(p);
            Files.write(run.resolve(IMAGE), image);
            Files.writeString(run.resolve(TAKE), "");
            System.out.println("RESULT guest image: " + image.length + " bytes");
        } catch (Exception | AssertionError e) {
            System.out.println("RESULT guest image: failed: " + e);
            System.exit(1);
        }
        System.out.flush();
        long deadline = System.currentTimeMillis() + TAKE_TIMEOUT_MILLIS;
        while (Files.exists(run.resolve(TAKE))) {
            if (System.currentTimeMillis() > deadline) {
                System.out.println("RESULT guest image: the host did not take it");
                System.exit(1);
            }
            Thread.sleep(100);
        }
    }
}
