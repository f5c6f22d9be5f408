package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.proc.ProcFs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Saves the descriptor table: which number refers to which open file, and each file's state. */
public final class FdDumper {
    public record Result(List<FdImage> fds, List<FileState> files) {
    }

    private FdDumper() {
    }

    /** Refuses, naming the descriptor, if any of them is of a kind that cannot be saved. Touches nothing. */
    public static void precheck(int pid) {
        ProcFs proc = new ProcFs(pid);
        int pidfd = Linux.pidfdOpen(pid);
        try {
            for (int fd : proc.fds()) {
                try (OpenFile f = new OpenFile(proc, pidfd, fd)) {
                    if (kindOf(f) == null) {
                        throw new RefusedException("fd " + fd + " of process " + pid + ": " + FileKinds.describeUnsupported(f)
                            + " is not supported yet");
                    }
                }
            }
        } finally {
            Linux.close(pidfd);
        }
    }

    public static Result dump(int pid) {
        ProcFs proc = new ProcFs(pid);
        int pidfd = Linux.pidfdOpen(pid);
        Map<Integer, OpenFile> files = new LinkedHashMap<>();
        try {
            for (int fd : proc.fds()) {
                files.put(fd, new OpenFile(proc, pidfd, fd));
            }
            boolean anySocket = files.values().stream().anyMatch(f -> f.link().startsWith("socket:"));
            DumpContext context = new DumpContext(files, anySocket ? UnixSockets.dump() : null);
            List<FdImage> fds = new ArrayList<>();
            List<FileState> states = new ArrayList<>();
            List<Integer> firstFdOfFile = new ArrayList<>();
            for (OpenFile f : files.values()) {
                int id = sharedWith(pid, f.fd(), firstFdOfFile);
                if (id < 0) {
                    FileKind<?> kind = kindOf(f);
                    if (kind == null) {
                        throw new RefusedException(f.describe() + ": " + FileKinds.describeUnsupported(f) + " is not supported yet");
                    }
                    id = states.size();
                    states.add(kind.dump(f, id, context));
                    firstFdOfFile.add(f.fd());
                }
                fds.add(new FdImage(f.fd(), f.closeOnExec(), id));
            }
            return new Result(fds, states);
        } finally {
            files.values().forEach(OpenFile::close);
            Linux.close(pidfd);
        }
    }

    /** The id of an already-saved open file that {@code fd} shares (dup'ed descriptors), or -1. */
    private static int sharedWith(int pid, int fd, List<Integer> firstFdOfFile) {
        for (int id = 0; id < firstFdOfFile.size(); id++) {
            if (Linux.sameFile(pid, fd, firstFdOfFile.get(id))) {
                return id;
            }
        }
        return -1;
    }

    private static FileKind<?> kindOf(OpenFile f) {
        for (FileKind<?> kind : FileKinds.ALL) {
            if (kind.matches(f)) {
                return kind;
            }
        }
        return null;
    }
}
