package io.pmig.checkpoint.fd;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;

/**
 * AIO contexts (io_setup) are refused in the pre-flight, while the process runs: a context is no descriptor but a
 * ring mapped into the process ("/[aio] (deleted)" in its maps, fs/aio.c), whose address is the context id the
 * process passes to io_submit and io_getevents. A copy would need a context made at that very address, with a ring of
 * the same size (which the kernel sizes by the host's CPU count) and the kernel's side of its requests in flight,
 * which nothing reads back.
 */
final class AioContexts {
    private static final String RING = "/[aio] (deleted)";

    private AioContexts() {
    }

    /** Refuses, naming the context by its id (the ring's address), if process {@code pid} has one. Touches nothing. */
    static void refuse(int pid) {
        for (String line : new ProcFs(pid).read("maps").split("\n")) {
            if (line.endsWith(RING)) {
                String id = line.substring(0, line.indexOf('-'));
                throw new RefusedException("process " + pid + " has an AIO context (io_setup; id 0x" + id + ", its ring mapped "
                    + "there): the kernel's side of its requests cannot be read back, nor a context made again at that "
                    + "address; a service using Linux AIO cannot be moved yet");
            }
        }
    }
}
