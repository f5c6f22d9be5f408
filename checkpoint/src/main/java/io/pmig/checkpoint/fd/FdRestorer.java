package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Nr;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Rebuilds the descriptor table: each open file is re-created here by its kind, then the
 * restored process takes a copy of it (pidfd_getfd on this process) at the saved number.
 */
public final class FdRestorer {
    private FdRestorer() {
    }

    /** All file states of the image, by id, with the kind that restores each. */
    private record Saved(FileKind<FileState> kind, FileState state) {
    }

    @SuppressWarnings("unchecked")
    private static Map<Integer, Saved> savedFiles(ImageObjects image) {
        Map<Integer, Saved> out = new HashMap<>();
        for (FileKind<?> kind : FileKinds.ALL) {
            for (FileState s : image.all(kind.stateType())) {
                out.put(s.id(), new Saved((FileKind<FileState>) kind, s));
            }
        }
        return out;
    }

    /** Refuses before anything is created if a file the descriptors need is missing or replaced. */
    public static void precheck(ImageObjects image) {
        for (Saved s : savedFiles(image).values()) {
            s.kind().checkRestorable(s.state());
        }
    }

    /** The first of the two numbers {@link #restore} works at: above every saved descriptor and the engine's pidfd. */
    private static int workingNumber(List<FdImage> fds, Puppet puppet) {
        return Math.max(fds.stream().mapToInt(FdImage::fd).max().orElse(0), puppet.enginePidfd()) + 1;
    }

    /**
     * The first descriptor number {@link #restore} of {@code image} neither installs nor works at: what the restore puts
     * in the process before (a post-copy's userfaultfd) is safe there.
     */
    public static int firstNumberLeftAlone(Puppet puppet, ImageObjects image) {
        return workingNumber(image.all(FdImage.class), puppet) + 2;
    }

    /**
     * Installs every descriptor in the restored process and closes the engine's pidfd there; returns how
     * many. The engine's own descriptors stay in {@code context} (TCP connections in repair mode).
     */
    public static int restore(Puppet puppet, ImageObjects image, RestoreContext context) {
        List<FdImage> fds = new ArrayList<>(image.all(FdImage.class));
        if (fds.isEmpty()) {
            RestoreProgram p = puppet.newProgram();
            p.call("close the engine's pidfd", Nr.CLOSE, puppet.enginePidfd());
            puppet.run(p);
            return 0;
        }
        fds.sort(Comparator.comparingInt(FdImage::fd));
        if (puppet.inNewPidNamespace()) {
            context.restoredInNewPidNamespace(puppet.pid());
        }
        Map<Integer, Saved> files = savedFiles(image);
        for (Saved s : files.values()) {
            s.kind().beforeOpening(s.state(), context);
        }
        for (Map.Entry<Integer, Saved> e : files.entrySet()) {
            context.opened(e.getKey(), e.getValue().kind().open(e.getValue().state(), context));
        }
        context.allOpened();
        Map<Integer, Integer> localFdOfFile = new HashMap<>();
        for (FdImage fd : fds) {
            // a file saved with another process of the tree (inherited, shared) was opened when that one was restored
            int local = context.openedFile(fd.fileId(), () -> "fd " + fd.fd() + " of restored process " + puppet.pid());
            if (fd.owner() != null) {
                Linux.fchown(local, fd.owner()[0], fd.owner()[1]);
            }
            localFdOfFile.put(fd.fileId(), local);
        }
        // the pidfd moves to the first number above every saved one and its own, where
        // F_DUPFD lands it exactly; the number after it parks each copy on its way
        int base = workingNumber(fds, puppet);
        int parking = base + 1;
        RestoreProgram p = puppet.newProgram();
        int pidfd = p.call("move the engine's pidfd", Nr.FCNTL, puppet.enginePidfd(), Linux.F_DUPFD_CLOEXEC, base);
        p.call("close the engine's first pidfd", Nr.CLOSE, puppet.enginePidfd());
        Map<Integer, Integer> fdOfFile = new HashMap<>();
        for (FdImage fd : fds) {
            int local = localFdOfFile.get(fd.fileId());
            // the copy lands on the lowest free number, which may be the target itself: park it first
            int copy = p.callWithResultOf(pidfd, new int[] {0}, "take fd " + fd.fd() + " (pidfd_getfd)", Nr.PIDFD_GETFD, 0, local, 0);
            p.callWithResultOf(copy, new int[] {0}, "park fd " + fd.fd(), Nr.DUP3, 0, parking, 0);
            p.callWithResultOf(copy, new int[] {0}, "close the copy of fd " + fd.fd(), Nr.CLOSE, 0);
            p.call("install fd " + fd.fd(), Nr.DUP3, parking, fd.fd(), fd.closeOnExec() ? Linux.O_CLOEXEC : 0);
            p.call("unpark fd " + fd.fd(), Nr.CLOSE, parking);
            fdOfFile.putIfAbsent(fd.fileId(), fd.fd());
        }
        p.callWithResultOf(pidfd, new int[] {0}, "close the pidfd", Nr.CLOSE, 0);
        puppet.run(p);

        RestoreProgram after = puppet.newProgram();
        for (Saved s : files.values()) {
            s.kind().afterInstall(s.state(), fdOfFile, after);
        }
        for (FdImage fd : fds) {
            if (fd.posixLocks() != null) {
                FileLocks.take(fd.posixLocks(), fd.fd(), after);
            }
        }
        puppet.run(after);
        return fds.size();
    }
}
