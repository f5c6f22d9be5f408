package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * O_PATH descriptors of a symbolic link itself (opened O_PATH|O_NOFOLLOW: the only way to hold one), re-opened the
 * same way with the same flags. A link is identified by its target, as a file is by its contents: the restore needs
 * the same path to be a link to the same target.
 */
public final class Symlinks implements FileKind<Symlinks.State> {
    @ImageKind("file.symlink")
    public record State(int id, String path, int flags, String target) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    /** A descriptor whose path is a symbolic link and whose inode (fdinfo "ino") is that link's, not a file's put there since. */
    @Override
    public boolean matches(OpenFile file) {
        Path p = Path.of(file.link());
        if (!file.link().startsWith("/") || !Files.isSymbolicLink(p) || (file.statusFlags() & Linux.O_PATH) == 0) {
            return false;
        }
        try {
            return ((Number) Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS)).longValue() == Long.parseLong(file.fdinfo("ino"));
        } catch (IOException gone) {
            return false;
        }
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        return new State(id, file.link(), file.statusFlags(), targetOf(Path.of(file.link()), file.describe()));
    }

    private static String targetOf(Path link, String what) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            throw new RefusedException(what + ": cannot read symbolic link " + link + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void checkRestorable(State state) {
        Path p = Path.of(state.path());
        if (!Files.isSymbolicLink(p) || !targetOf(p, "O_PATH descriptor").equals(state.target())) {
            throw new RefusedException(state.path() + " is not the symbolic link to " + state.target() + " the process held open "
                + "(O_PATH); restore needs the same link at the same path (shared storage or an identical install)");
        }
    }

    @Override
    public int open(State state, RestoreContext context) {
        return context.hold(Linux.open(state.path(), state.flags() | Linux.O_NOFOLLOW | Linux.O_CLOEXEC, 0));
    }
}
