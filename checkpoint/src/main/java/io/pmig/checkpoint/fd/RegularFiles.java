package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.memory.FileIdentity;
import io.pmig.checkpoint.nativeio.Linux;
import io.pmig.checkpoint.restore.RestoreProgram;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Regular files and directories: re-opened by path with the same flags and offset, and the locks held through them. */
public final class RegularFiles implements FileKind<RegularFiles.State> {
    /** {@code locks}: null in images made before they were kept. */
    @ImageKind("file.regular")
    public record State(int id, String path, int flags, long position, FileIdentity identity, List<FileLocks.Lock> locks)
        implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        if (!file.link().startsWith("/") || file.link().endsWith(" (deleted)")) {
            return false;
        }
        Path p = Path.of(file.link());
        return Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        return new State(id, file.link(), file.statusFlags(), Long.parseLong(file.fdinfo("pos")), FileIdentity.of(Path.of(file.link())),
            FileLocks.of(file));
    }

    @Override
    public void checkRestorable(State state) {
        state.identity().requireSameFile();
    }

    @Override
    public int open(State state, RestoreContext context) {
        state.identity().requireSameFile();
        int flags = state.flags() & ~(Linux.O_CREAT | Linux.O_EXCL | Linux.O_TRUNC | Linux.O_NOCTTY);
        int fd = context.hold(Linux.open(state.path(), flags | Linux.O_CLOEXEC, 0));
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
}
