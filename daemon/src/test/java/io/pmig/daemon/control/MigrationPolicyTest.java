package io.pmig.daemon.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ownership the way ptrace means it, read from sample /proc/PID/status files (their directories chowned like /proc's). */
class MigrationPolicyTest {
    private static final Caller USER = new Caller(100, 1000, 1000);

    @TempDir
    Path proc;

    private MigrationPolicy.Decision decide(Caller caller, String uids, String gids, String capPrm, int procOwner) throws IOException {
        Path dir = Files.createDirectories(proc.resolve("4242"));
        Files.writeString(dir.resolve("status"), "Name:\tsvc\nUid:\t" + uids + "\nGid:\t" + gids + "\nCapPrm:\t" + capPrm + "\n");
        Files.setAttribute(dir, "unix:uid", procOwner);
        return new MigrationPolicy(proc).mayMigrate(caller, 4242);
    }

    private static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    @Test
    void theOwnerInEveryIdMayMigrateItsProcess() throws IOException {
        assumeTrue(root(), "chown needs root");
        MigrationPolicy.Decision d = decide(USER, "1000\t1000\t1000\t1000", "1000\t1000\t1000\t1000", "0000000000000000", 1000);
        assertTrue(d.allowed(), d.reason());
        assertTrue(decide(new Caller(1, 0, 0), "33\t0\t0\t0", "33\t33\t33\t33", "000001ffffffffff", 0).allowed(), "root may");
    }

    @Test
    void anotherUsersProcessIsRefused() throws IOException {
        assumeTrue(root(), "chown needs root");
        MigrationPolicy.Decision d = decide(USER, "0\t0\t0\t0", "0\t0\t0\t0", "0", 0);
        assertEquals("uid 1000 may not migrate pid 4242, which runs as uid 0: only root or the owner of a process may migrate it",
            d.reason());
    }

    /** A set-user-ID program that dropped to its caller for a while can become root again: not the caller's to move. */
    @Test
    void aSavedUidOfAnotherUserIsRefused() throws IOException {
        assumeTrue(root(), "chown needs root");
        MigrationPolicy.Decision d = decide(USER, "1000\t1000\t0\t1000", "1000\t1000\t1000\t1000", "0", 1000);
        assertFalse(d.allowed());
        assertEquals("uid 1000 may not migrate pid 4242: its saved or filesystem user is another (Uid: 1000 1000 0 1000), so it can"
            + " become that user; only root may migrate it", d.reason());
    }

    @Test
    void anotherGroupCapabilitiesOrANonDumpableProcessAreRefused() throws IOException {
        assumeTrue(root(), "chown needs root");
        String own = "1000\t1000\t1000\t1000";
        assertTrue(decide(USER, own, "1000\t42\t42\t42", "0", 1000).reason().contains("it runs with groups (Gid: 1000 42 42 42) other"
            + " than the caller's (1000)"));
        assertTrue(decide(USER, own, own, "0000000000000400", 1000).reason().contains("it holds capabilities (CapPrm 0000000000000400)"));
        assertTrue(decide(USER, own, own, "0", 0).reason().contains("it is not dumpable (/proc/4242 belongs to uid 0)"));
    }

    @Test
    void aProcessThatIsNotThereIsSaidSo() {
        assertEquals("there is no process 4243 on this node", new MigrationPolicy(proc).mayMigrate(USER, 4243).reason());
    }
}
