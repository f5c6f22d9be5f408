package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * System V IPC: shared memory, semaphores and message queues (shmget(2), semctl(2), msgrcv(2)...), with the
 * constants of include/uapi/linux/{ipc,shm,sem,msg}.h and the x86_64 layouts of struct ipc64_perm, shmid64_ds,
 * semid64_ds and msqid64_ds (asm-generic/ipcbuf.h, msgbuf.h; asm/shmbuf.h, sembuf.h). On x86_64 the calls take the
 * 64-bit structures without IPC_64.
 */
public final class SysvIpc {
    public static final int SHMGET = 29;
    public static final int SHMAT = 30;
    public static final int SHMCTL = 31;
    public static final int SHMDT = 67;
    public static final int SEMGET = 64;
    public static final int SEMOP = 65;
    public static final int SEMCTL = 66;
    public static final int MSGGET = 68;
    public static final int MSGSND = 69;
    public static final int MSGRCV = 70;
    public static final int MSGCTL = 71;

    public static final int IPC_PRIVATE = 0;
    public static final int IPC_CREAT = 01000;
    public static final int IPC_EXCL = 02000;
    public static final int IPC_NOWAIT = 04000;
    public static final int IPC_RMID = 0;
    public static final int IPC_SET = 1;
    public static final int IPC_STAT = 2;
    /** shm_perm.mode: marked for removal (IPC_RMID) while attached; its key is IPC_PRIVATE from then on. */
    public static final int SHM_DEST = 01000;
    /** shm_perm.mode: locked in memory (SHM_LOCK). */
    public static final int SHM_LOCKED = 02000;
    public static final int SHM_LOCK = 11;
    public static final int SHM_RDONLY = 010000;
    public static final int GETPID = 11;
    public static final int GETALL = 13;
    public static final int SETVAL = 16;
    /** sembuf.sem_flg: the kernel keeps the operation's inverse for the process (semadj), applied when it exits. */
    public static final int SEM_UNDO = 0x1000;
    /** A semaphore's highest value, and the bound of an adjustment: -(SEMAEM + 1) .. SEMAEM (linux/sem.h). */
    public static final int SEMVMX = 32767;
    public static final int SEMAEM = SEMVMX;
    /** msgrcv: copy the message at index msgtyp without taking it off the queue (CONFIG_CHECKPOINT_RESTORE). */
    public static final int MSG_COPY = 040000;

    /** struct ipc64_perm: key, uid, gid, cuid, cgid, mode (and seq, unused); 48 bytes. */
    public static final int PERM_UID = 4;
    public static final int PERM_GID = 8;
    public static final int PERM_CUID = 12;
    public static final int PERM_CGID = 16;
    public static final int PERM_MODE = 20;
    /** struct shmid64_ds: 112 bytes; shm_segsz after the perm. */
    public static final int SHMID_DS_BYTES = 112;
    public static final int SHM_SEGSZ = 48;
    public static final int SHM_NATTCH = 88;
    /** struct semid64_ds: 104 bytes; sem_nsems at 80. */
    public static final int SEMID_DS_BYTES = 104;
    public static final int SEM_NSEMS = 80;
    /** struct sembuf: unsigned short sem_num, short sem_op, short sem_flg. */
    public static final int SEMBUF_BYTES = 6;
    /** struct msqid64_ds: 120 bytes; msg_cbytes, msg_qnum, msg_qbytes. */
    public static final int MSQID_DS_BYTES = 120;
    public static final int MSG_CBYTES = 72;
    public static final int MSG_QNUM = 80;
    public static final int MSG_QBYTES = 88;
    public static final int MSG_LSPID = 96;

    private SysvIpc() {
    }

    /** shmctl/semctl/msgctl(IPC_STAT) of object {@code id} into a buffer of {@code bytes}; {@code nr} is the ctl call. */
    public static NativeMemory stat(String what, int nr, int id, int bytes) {
        NativeMemory ds = NativeMemory.allocate(bytes);
        if (nr == SEMCTL) {
            Syscall.call("semctl(" + what + ", IPC_STAT)", nr, id, 0, IPC_STAT, ds.address());
        } else {
            Syscall.call(what + ": IPC_STAT", nr, id, IPC_STAT, ds.address());
        }
        return ds;
    }

    /** IPC_SET of uid, gid and the permission bits (and a queue's byte limit, already in {@code ds}) from a buffer read by {@link #stat}. */
    public static void set(String what, int nr, int id, NativeMemory ds, int uid, int gid, int mode) {
        ds.putInt(PERM_UID, uid);
        ds.putInt(PERM_GID, gid);
        ds.putInt(PERM_MODE, mode & 0777);
        if (nr == SEMCTL) {
            Syscall.call(what + ": IPC_SET", nr, id, 0, IPC_SET, ds.address());
        } else {
            Syscall.call(what + ": IPC_SET", nr, id, IPC_SET, ds.address());
        }
    }

    /** Removes object {@code id} ({@code nr}: the ctl call of its kind); false if it was gone already. */
    public static boolean remove(int nr, int id) {
        long r = nr == SEMCTL ? Syscall.tryCall(nr, id, 0, IPC_RMID) : Syscall.tryCall(nr, id, IPC_RMID, 0);
        return r >= 0;
    }

    /** The values (GETALL) of the {@code count} semaphores of set {@code id}. */
    public static short[] semValues(int id, int count) {
        NativeMemory all = NativeMemory.allocate(Math.max(2, count * 2L));
        Syscall.call("semctl(" + id + ", GETALL)", SEMCTL, id, 0, GETALL, all.address());
        short[] out = new short[count];
        for (int i = 0; i < count; i++) {
            out[i] = all.getShort(i * 2L);
        }
        return out;
    }

    /** The process that last changed semaphore {@code num} of set {@code id} (GETPID), as this process's PID namespace numbers it. */
    public static int semPid(int id, int num) {
        return (int) Syscall.call("semctl(" + id + ", " + num + ", GETPID)", SEMCTL, id, num, GETPID);
    }

    /** One operation of a semop call (struct sembuf). */
    public record SemOp(int num, int op, int flags) {
    }

    /** {@code ops} as the array of struct sembuf a semop call takes. */
    public static byte[] sembufs(List<SemOp> ops) {
        ByteBuffer b = ByteBuffer.allocate(ops.size() * SEMBUF_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (SemOp o : ops) {
            b.putShort((short) o.num()).putShort((short) o.op()).putShort((short) o.flags());
        }
        return b.array();
    }

    /**
     * A copy of message {@code index} of queue {@code id} (MSG_COPY: the queue keeps it) into {@code buffer} (long mtype,
     * then the text); returns the text's length.
     */
    public static int copyMessage(int id, int index, NativeMemory buffer) {
        return (int) Syscall.call("msgrcv(" + id + ", MSG_COPY " + index + ")", MSGRCV, id, buffer.address(), buffer.size() - 8,
            index, IPC_NOWAIT | MSG_COPY);
    }
}
