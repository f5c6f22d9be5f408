package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.Linux;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Descriptors of a namespace file (/proc/PID/ns/net opened, as a service does to come back to its namespace with
 * setns): one of the process's own namespaces is opened again as the restored process's namespace of that type
 * (/proc/PID/ns/TYPE of the copy), which is what it was for the original. Refused: a namespace the process is not in
 * (one it left, or another process's), which a copy could not hold.
 */
public final class NamespaceFiles implements FileKind<NamespaceFiles.State> {
    /** "net:[4026531840]": the namespace's type (linux/proc_ns.h names) and inode. */
    private static final Pattern LINK = Pattern.compile("(cgroup|ipc|mnt|net|pid|time|user|uts):\\[(\\d+)]");

    /**
     * {@code pid}: the process of the image whose namespace it is; {@code entry}: the /proc/PID/ns entry that names it
     * ("net", or "pid_for_children" for a PID namespace its children will be in).
     */
    @ImageKind("file.namespace")
    public record State(int id, int pid, String entry, int flags) implements FileState {
    }

    @Override
    public Class<State> stateType() {
        return State.class;
    }

    @Override
    public boolean matches(OpenFile file) {
        return LINK.matcher(file.link()).matches();
    }

    @Override
    public State dump(OpenFile file, int id, DumpContext context) {
        Matcher m = LINK.matcher(file.link());
        m.matches();
        String type = m.group(1);
        for (String entry : List.of(type, type + "_for_children")) {
            try {
                if (Files.readSymbolicLink(nsEntry(file.pid(), entry)).toString().equals(file.link())) {
                    return new State(id, file.pid(), entry, file.statusFlags());
                }
            } catch (java.io.IOException noSuchEntry) {
                // the kernel has no such entry (only pid and time have one for children)
            }
        }
        throw new RefusedException(file.describe() + ": this descriptor holds a " + type + " namespace the process is not "
            + "in (one it left, or another process's), which a copy could not hold");
    }

    private static Path nsEntry(int pid, String entry) {
        return Path.of("/proc", Integer.toString(pid), "ns", entry);
    }

    @Override
    public int open(State state, RestoreContext context) {
        int pid = context.hostPid(state.pid());
        if (pid < 0) {
            throw new FailedException("the " + state.entry() + " namespace of process " + state.pid() + ": no restored process "
                + "has that pid");
        }
        return context.hold(Linux.open(nsEntry(pid, state.entry()).toString(), state.flags() | Linux.O_CLOEXEC, 0));
    }
}
