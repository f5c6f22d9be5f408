package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.restore.RestoreProgram;

import java.util.Map;

/**
 * One kind of open file: how to recognise it, save it, and re-create it. Each kind lives in
 * its own class and is listed once in {@link FileKinds}.
 */
public interface FileKind<S extends FileState> {
    Class<S> stateType();

    boolean matches(OpenFile file);

    S dump(OpenFile file, int id, DumpContext context);

    /**
     * Refuses, naming what is missing, if this host cannot re-create the file (a file replaced, an
     * address not here); called for every file before any process is created.
     */
    default void checkRestorable(S state) {
    }

    /**
     * Called for every file of the image, with the context they share, before any is opened: for what re-creating
     * one needs to know of the others (TCP sockets sharing a port).
     */
    default void beforeOpening(S state, RestoreContext context) {
    }

    /** Re-creates the open file description in this process and returns the descriptor holding it. */
    int open(S state, RestoreContext context);

    /**
     * Calls to run in the restored process once every descriptor has its number
     * ({@code fdsOfFile} maps file ids to one descriptor number each).
     */
    default void afterInstall(S state, Map<Integer, Integer> fdsOfFile, RestoreProgram program) {
    }
}
