package io.pmig.checkpoint.fd;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.pmig.checkpoint.carried.CarriedFiles;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.memory.FileIdentity;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.nativeio.Shmem;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Regular files and directories: re-opened by path with the same flags and offset, and the locks held through them. A
 * file whose contents travel in the image (on tmpfs, deleted, a memfd: {@link CarriedFiles}) is re-opened from the file
 * the restore recreated instead.
 */
public final class RegularFiles implements FileKind<RegularFiles.State> {
    /**
     * {@code locks}: null in images made before they were kept. {@code carried}: the key of the
     * {@link io.pmig.checkpoint.carried.CarriedFile} of a file carried in the image ({@code identity} is null then); absent
     * for a file re-opened by path.
     */
    @ImageKind("file.regular")
    public record State(int id, String path, int flags, long position, FileIdentity identity, List<FileLocks.Lock> locks,
                        @JsonInclude(JsonInclude.Include.NON_NULL) String carried)
        implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        if (!file.link().startsWith("/")) {
            return false;
        }
        if (file.link().endsWith(" (deleted)")) {
            return Files.isRegularFile(opened(file)) && carriedKey(file) != null;
        }
        Path p = Path.of(file.link());
        return Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * What the pre-flight does for a file while the process runs: identifies one re-opened by path by its contents, so
     * that the dump in the freeze finds it cached (a file written meanwhile is identified again there), and refuses a
     * carried one above the size limit.
     */
    static void identifyAhead(OpenFile file) {
        if (carriedKey(file) == null) {
            FileIdentity.of(Path.of(file.link()));
        }
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        String carried = carriedKey(file);
        return new State(id, file.link(), file.statusFlags(), Long.parseLong(file.fdinfo("pos")),
            carried == null ? FileIdentity.of(Path.of(file.link())) : null, FileLocks.of(file), carried);
    }

    @Override
    public void checkRestorable(State state) {
        if (state.carried() == null) {
            state.identity().requireSameFile();
        }
    }

    @Override
    public int open(State state, RestoreContext context) {
        int flags = state.flags() & ~(Linux.O_CREAT | Linux.O_EXCL | Linux.O_TRUNC | Linux.O_NOCTTY);
        int fd;
        if (state.carried() != null) {
            fd = context.hold(context.recreatedFiles().reopen(state.carried(), flags & ~Shmem.O_TMPFILE,
                () -> "open file " + state.id() + " (" + state.path() + ")"));
        } else {
            state.identity().requireSameFile();
            fd = context.hold(Linux.open(state.path(), flags | Linux.O_CLOEXEC, 0));
        }
        if ((flags & Linux.O_PATH) == 0) {      // an O_PATH descriptor has no offset (lseek: EBADF)
            Linux.lseek(fd, state.position(), Linux.SEEK_SET);
        }
        return fd;
    }

    @Override
    public void afterInstall(State state, Map<Integer, Integer> fdsOfFile, RestoreProgram program) {
        if (state.locks() != null) {
            FileLocks.take(state.locks(), fdsOfFile.get(state.id()), program);
        }
    }

    private static String carriedKey(OpenFile file) {
        return CarriedFiles.keyOf(opened(file), file.link(), file::describe);
    }

    /** The file behind the descriptor, through /proc: it can be examined and read even deleted. */
    private static Path opened(OpenFile file) {
        return Path.of("/proc", Integer.toString(file.pid()), "fd", Integer.toString(file.fd()));
    }
}
