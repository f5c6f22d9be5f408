package io.pmig.checkpoint.ipc;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.image.ImageKind;
import io.pmig.checkpoint.nativeio.SysvIpc;
import io.pmig.checkpoint.restore.Puppet;
import io.pmig.checkpoint.restore.RestoreProgram;
import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * System V message queues. A queue belongs to the tree when the last process that sent to it or received from it
 * (/proc/sysvipc/msg lspid, lrpid) is a member; one whose other last user runs outside the tree is refused. Its messages
 * are copied in order with their types by msgrcv(MSG_COPY), which leaves them queued (it needs a kernel with
 * CONFIG_CHECKPOINT_RESTORE, whose sign is the {@code msg_next_id} sysctl), and sent again at restore by the member that
 * last sent (or the root), so the queue names a member again. Its byte limit (msg_qbytes) is set again.
 */
final class SysvMessageQueues extends SysvKind<SysvMessageQueues.Saved> {
    /** Message bytes per restore program, well within its data area. */
    private static final long PROGRAM_DATA_BYTES = 1 << 20;

    /** One message: its type and text. */
    record Message(long type, byte[] text) {
    }

    /** A queue: its byte limit, the member (its pid in the image) that last sent to it (0: none), its messages in order. */
    @ImageKind("sysv.msg")
    record Saved(SysvPerm perm, long maxBytes, int sentBy, List<Message> messages) implements SysvKind.Saved {
    }

    SysvMessageQueues() {
        super("System V message queue", "msg", "msqid", SysvIpc.MSGCTL, "-q", Saved.class);
    }

    @Override
    List<Integer> usedBy(SysvUsers tree) {
        List<Integer> out = new ArrayList<>();
        for (var row : SysvObjects.rows(table())) {
            int id = Integer.parseInt(row.get(idColumn()));
            int sender = Integer.parseInt(row.get("lspid"));
            int receiver = Integer.parseInt(row.get("lrpid"));
            if (!tree.members().contains(sender) && !tree.members().contains(receiver)) {
                continue;
            }
            String what = describe(row);
            tree.requireNoOutsider(sender, what);
            tree.requireNoOutsider(receiver, what);
            if (!Files.exists(Path.of("/proc/sys/kernel/msg_next_id"))) {
                throw new RefusedException(what + " cannot be read without taking its messages: this kernel lacks "
                    + "CONFIG_CHECKPOINT_RESTORE (msgrcv MSG_COPY)");
            }
            out.add(id);
        }
        return out;
    }

    @Override
    Saved save(int id, SysvUsers tree) {
        NativeMemory ds = SysvIpc.stat(noun() + " " + id, ctl(), id, SysvIpc.MSQID_DS_BYTES);
        long count = ds.getLong(SysvIpc.MSG_QNUM);
        NativeMemory buffer = NativeMemory.allocate(8 + Math.max(1, ds.getLong(SysvIpc.MSG_CBYTES)));
        List<Message> messages = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int length = SysvIpc.copyMessage(id, i, buffer);
            messages.add(new Message(buffer.getLong(0), buffer.bytes(8, length)));
        }
        int sender = ds.getInt(SysvIpc.MSG_LSPID);
        return new Saved(SysvPerm.of(id, ds), ds.getLong(SysvIpc.MSG_QBYTES), tree.imagePid(sender), messages);
    }

    @Override
    int create(Saved saved) {
        SysvPerm perm = saved.perm();
        int id = (int) Syscall.call("msgget(" + perm.describe() + ")", SysvIpc.MSGGET, perm.key(),
            SysvIpc.IPC_CREAT | SysvIpc.IPC_EXCL | (perm.mode() & 0777));
        if (id == perm.id()) {
            NativeMemory ds = SysvIpc.stat(noun() + " " + id, ctl(), id, SysvIpc.MSQID_DS_BYTES);
            ds.putLong(SysvIpc.MSG_QBYTES, saved.maxBytes());
            SysvIpc.set(noun() + " " + perm.describe(), ctl(), id, ds, perm.uid(), perm.gid(), perm.mode());
        }
        return id;
    }

    @Override
    void replay(Saved saved, MemberPuppets members) {
        Puppet member = members.member(saved.sentBy());
        RestoreProgram p = member.newProgram();
        long data = 0;
        for (Message m : saved.messages()) {
            data += 16 + m.text().length;
            if (!p.hasRoomFor(1) || data > PROGRAM_DATA_BYTES) {
                member.run(p);
                p = member.newProgram();
                data = 16 + m.text().length;
            }
            ByteBuffer bytes = ByteBuffer.allocate(8 + m.text().length).order(ByteOrder.LITTLE_ENDIAN);
            bytes.putLong(m.type()).put(m.text());
            p.call("msgsnd(" + saved.perm().describe() + ", type " + m.type() + ")", SysvIpc.MSGSND, saved.perm().id(),
                p.data(bytes.array()), m.text().length, SysvIpc.IPC_NOWAIT);
        }
        member.run(p);
    }
}
