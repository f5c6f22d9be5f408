package io.pmig.checkpoint.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.pmig.checkpoint.CheckpointEngine;
import io.pmig.checkpoint.CheckpointOptions;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.RestoreEngine;
import io.pmig.checkpoint.RestoreOptions;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.nativeio.Linux;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * --new-pid-namespace: a copy restored beside the still-running original keeps its pid inside its namespace; such a
 * copy moves again with its namespace, whatever was asked; a process in a namespace that holds anything else is refused.
 */
class NewPidNamespaceTest {
    @Test
    @Timeout(60)
    void restoresBesideTheOriginalWithTheSamePidInside(@TempDir Path tmp) throws Exception {
        withCopyInNewNamespace("threads", tmp, (original, copy) -> {
            assertNotEquals(original, copy, "the host sees the copy under another pid");
            assertEquals(original, innermostPid(copy), "inside its namespace the copy has the original's pid");
            try (var tasks = Files.list(Path.of("/proc", Integer.toString(copy), "task"))) {
                assertEquals(13, tasks.count(), "all threads restored");
            }
        });
    }

    /** A pidfd of the process itself refers, in a copy in a new PID namespace, to the copy: not to the original, whose pid it had. */
    @Test
    @Timeout(60)
    void aPidfdOfItselfRefersToTheCopy(@TempDir Path tmp) throws Exception {
        withCopyInNewNamespace("pidfds", tmp, (original, copy) -> {
            for (int fd : new int[] {20, 21}) {
                String fdinfo = Files.readString(Path.of("/proc", Integer.toString(copy), "fdinfo", Integer.toString(fd)));
                assertEquals(Integer.toString(copy), fdinfo.replaceAll("(?s).*\\nPid:\\s+(-?\\d+).*", "$1"),
                    "the copy's fd " + fd + " refers to (host pid; the original is " + original + ")");
            }
        });
    }

    /** What a test checks of a copy ({@code copy}: its host pid) of a program left running ({@code original}). */
    private interface CopyCheck {
        void check(int original, int copy) throws Exception;
    }

    /**
     * Checkpoints {@code program} left running, restores a copy beside it in a new PID namespace, checks the copy and kills
     * it; the original then runs on and passes.
     */
    private static void withCopyInNewNamespace(String program, Path tmp, CopyCheck check) throws Exception {
        assumeRoot();
        try (TestProgram original = TestProgram.start(program, tmp.resolve("state"))) {
            original.awaitReady();
            Path image = tmp.resolve("image");
            new CheckpointEngine().checkpoint(original.pid(), image, new CheckpointOptions(true));
            // the copy shares the state directory; it must not see "go" before the original is done
            RestoreReport copy = new RestoreEngine().restore(image, new RestoreOptions(true));
            try {
                check.check(original.pid(), copy.pid());
            } finally {
                kill(copy.pid());
            }
            original.go();
            assertEquals("PASS", original.awaitResult(TestProgram.RESULT_TIMEOUT), "the original runs on unharmed");
        }
    }

    @Test
    @Timeout(60)
    void aProcessInItsOwnNamespaceMovesWithItAndKeepsItsPid(@TempDir Path tmp) throws Exception {
        assumeRoot();
        try (TestProgram original = TestProgram.start("threads", tmp.resolve("state"))) {
            original.awaitReady();
            new CheckpointEngine().checkpoint(original.pid(), tmp.resolve("image-1"), new CheckpointOptions(false));
            original.awaitPidFree(Duration.ofSeconds(20));
            int first = new RestoreEngine().restore(tmp.resolve("image-1"), new RestoreOptions(true)).pid();
            try {
                assertEquals(original.pid(), innermostPid(first), "the first copy's pid inside its namespace");
                new CheckpointEngine().checkpoint(first, tmp.resolve("image-2"), new CheckpointOptions(false));
                // asked for no namespace: the image says the process had one, and its pid is its own there
                int second = new RestoreEngine().restore(tmp.resolve("image-2"), RestoreOptions.defaults()).pid();
                try {
                    assertNotEquals(original.pid(), second, "the host sees the second copy under another pid");
                    assertEquals(original.pid(), innermostPid(second), "the second copy's pid inside its namespace");
                    original.go();
                    // the original's pid is not the copy's on this host: await the result file, not that pid
                    Path result = original.stateDir().resolve("result");
                    for (int i = 0; i < 2000 && !Files.exists(result); i++) {
                        Thread.sleep(10);
                    }
                    assertEquals("PASS", Files.exists(result) ? Files.readString(result).trim() : "no result",
                        "the twice-moved copy checks its state; log:\n" + original.logTail());
                } finally {
                    kill(second);
                }
            } finally {
                kill(first);
            }
        }
    }

    @Test
    @Timeout(60)
    void aProcessSharingItsNamespaceOrBeingItsInitIsRefused() throws Exception {
        assumeRoot();
        Process init = detached("unshare", "--pid", "--fork", "sleep", "600");
        Process shell = detached("unshare", "--pid", "--fork", "sh", "-c", "sleep 600 & wait");
        try {
            int sleepAsInit = awaitDescendant(init.pid(), 1);
            int sleepBesideShell = awaitDescendant(shell.pid(), 2);
            RefusedException e = assertThrows(RefusedException.class,
                () -> new CheckpointEngine().checkpoint(sleepAsInit, Files.createTempDirectory("pmig-ns"), new CheckpointOptions(true)));
            assertTrue(e.getMessage().contains("is the init (pid 1) of its PID namespace"), e.getMessage());
            e = assertThrows(RefusedException.class,
                () -> new CheckpointEngine().checkpoint(sleepBesideShell, Files.createTempDirectory("pmig-ns"), new CheckpointOptions(true)));
            assertTrue(e.getMessage().contains("shares its PID namespace") && e.getMessage().contains("(sh)"), e.getMessage());
            assertEquals("S", TestProgram.procState(sleepBesideShell).orElse("gone").substring(0, 1), "the refused process runs on");
        } finally {
            init.descendants().forEach(ProcessHandle::destroyForcibly);
            shell.descendants().forEach(ProcessHandle::destroyForcibly);
            init.destroyForcibly();
            shell.destroyForcibly();
        }
    }

    private static Process detached(String... command) throws IOException {
        return new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** The first process {@code depth} generations below {@code pid} whose command is sleep, once it runs. */
    private static int awaitDescendant(long pid, int depth) throws InterruptedException, IOException {
        for (int i = 0; i < 1000; i++) {
            Optional<ProcessHandle> found = ProcessHandle.of(pid).stream().flatMap(ProcessHandle::descendants)
                .filter(h -> h.info().command().map(c -> c.endsWith("/sleep")).orElse(false)).findFirst();
            if (found.isPresent() && innermostPid((int) found.get().pid()) == depth) {
                return (int) found.get().pid();
            }
            Thread.sleep(10);
        }
        throw new AssertionError("no sleep with pid " + depth + " in its namespace below process " + pid);
    }

    private static int innermostPid(int pid) throws IOException {
        String nspid = Files.readString(Path.of("/proc", Integer.toString(pid), "status"))
            .replaceAll("(?s).*\\nNSpid:\\s+([0-9 \\t]+)\\n.*", "$1").trim();
        String[] ids = nspid.split("\\s+");
        return Integer.parseInt(ids[ids.length - 1]);
    }

    private static void assumeRoot() throws IOException {
        assumeTrue("0".equals(Files.readString(Path.of("/proc/self/status")).replaceAll("(?s).*\\nUid:\\s+(\\d+).*", "$1")), "needs root");
    }

    private static void kill(int pid) throws InterruptedException {
        if (Linux.processExists(pid)) {
            Linux.kill(pid, Linux.SIGKILL);
        }
        for (int i = 0; i < 500 && Files.exists(Path.of("/proc", Integer.toString(pid))); i++) {
            Thread.sleep(10);
        }
    }
}
