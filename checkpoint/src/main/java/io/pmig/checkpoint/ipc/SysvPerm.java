package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.nativeio.NativeMemory;

/**
 * Who a System V IPC object is and belongs to (struct ipc64_perm): its id and key, owner, creator and permission bits
 * (with the kind's own flags in {@code mode}, such as SHM_DEST).
 */
public record SysvPerm(int id, int key, int uid, int gid, int cuid, int cgid, int mode) {

    /** The perm of object {@code id} from its IPC_STAT buffer. */
    static SysvPerm of(int id, NativeMemory ds) {
        return new SysvPerm(id, ds.getInt(0), ds.getInt(SysvIpc.PERM_UID), ds.getInt(SysvIpc.PERM_GID), ds.getInt(SysvIpc.PERM_CUID),
            ds.getInt(SysvIpc.PERM_CGID), ds.getInt(SysvIpc.PERM_MODE));
    }

    /** "id 32769 (key 0x504d0001)", as ipcs shows them. */
    String describe() {
        return "id " + id + " (key " + String.format("0x%08x", key) + ")";
    }
}
