/*
 * sysv_msg: a System V message queue moves with the tree that uses it, with its id, key, mode, byte limit and its
 * messages in order with their types.
 *
 * KEY (0x504d0000 | pid & 0xffff), mode 0620, its byte limit lowered to 12000: the parent sends (1, "one"), (2, "two"),
 * (1, "three"), (5, 3000 bytes of a pattern), (3, "four"); the child takes type 2, then waits for a message of type 9.
 * After go the parent checks the queue (id, key, mode, limit, 4 messages, last sender) and takes the messages in order
 * (type 0: one, three, the pattern; then type 3), then sends (9, "bye"), which the child waits for.
 */
#include "harness.h"

#include <sys/ipc.h>
#include <sys/msg.h>

#define BIG 3000
#define LIMIT 12000
#define WAIT_MS 60000

struct message {
    long type;
    char text[BIG];
};

static int send_text(int id, long type, const char *text)
{
    struct message m = { .type = type };
    size_t n = strlen(text);
    memcpy(m.text, text, n);
    return msgsnd(id, &m, n, IPC_NOWAIT);
}

static ssize_t receive(int id, struct message *m, long type)
{
    ssize_t r;
    do {
        r = msgrcv(id, m, sizeof m->text, type, 0);
    } while (r < 0 && errno == EINTR);
    return r;
}

static int text_is(const struct message *m, ssize_t n, long type, const char *text)
{
    return m->type == type && n == (ssize_t)strlen(text) && memcmp(m->text, text, (size_t)n) == 0;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    key_t key = (key_t)(0x504d0000 | (getpid() & 0xffff));
    int id = msgget(key, IPC_CREAT | IPC_EXCL | 0620);
    SETUP(id >= 0, "msgget(0x%x): %s", key, strerror(errno));
    struct msqid_ds ds;
    SETUP(msgctl(id, IPC_STAT, &ds) == 0, "IPC_STAT: %s", strerror(errno));
    ds.msg_qbytes = LIMIT;
    SETUP(msgctl(id, IPC_SET, &ds) == 0, "IPC_SET: %s", strerror(errno));
    SETUP(send_text(id, 1, "one") == 0 && send_text(id, 2, "two") == 0 && send_text(id, 1, "three") == 0,
          "msgsnd: %s", strerror(errno));
    static struct message big = { .type = 5 };
    h_fill(big.text, BIG, 71, 0);
    SETUP(msgsnd(id, &big, BIG, IPC_NOWAIT) == 0, "msgsnd big: %s", strerror(errno));
    SETUP(send_text(id, 3, "four") == 0, "msgsnd: %s", strerror(errno));

    pid_t child = fork();
    SETUP(child >= 0, "fork: %s", strerror(errno));
    if (child == 0) {
        static struct message m;
        if (!text_is(&m, receive(id, &m, 2), 2, "two")) {
            _exit(1);
        }
        _exit(text_is(&m, receive(id, &m, 9), 9, "bye") ? 0 : 2);
    }
    int waited = 0;
    for (; waited < WAIT_MS && !(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 4); waited += 2) {
        h_sleep_ms(2);
    }
    SETUP(waited < WAIT_MS, "the child never took its message");

    h_ready();
    h_wait_go();

    CHECK(msgctl(id, IPC_STAT, &ds) == 0, "IPC_STAT of queue %d: %s", id, strerror(errno));
    CHECK(ds.msg_perm.__key == key, "queue %d has key 0x%x, not 0x%x", id, ds.msg_perm.__key, key);
    CHECK((ds.msg_perm.mode & 0777) == 0620, "queue %d has mode 0%o, not 0620", id, ds.msg_perm.mode & 0777);
    CHECK(ds.msg_qbytes == LIMIT, "queue %d holds up to %lu bytes, not %d", id, (unsigned long)ds.msg_qbytes, LIMIT);
    CHECK(ds.msg_qnum == 4, "queue %d has %lu messages, not 4", id, (unsigned long)ds.msg_qnum);
    CHECK(ds.__msg_cbytes == 3 + 5 + BIG + 4, "queue %d holds %lu bytes", id, (unsigned long)ds.__msg_cbytes);
    CHECK(ds.msg_lspid == getpid(), "queue %d was last sent to by %d, not %d", id, (int)ds.msg_lspid, (int)getpid());
    CHECK(msgget(key, 0) == id, "key 0x%x names queue %d, not %d", key, msgget(key, 0), id);

    static struct message m;
    CHECK(text_is(&m, receive(id, &m, 0), 1, "one"), "the first message is not (1, one)");
    CHECK(text_is(&m, receive(id, &m, 0), 1, "three"), "the second message is not (1, three)");
    ssize_t n = receive(id, &m, 0);
    CHECK(m.type == 5 && n == BIG && h_check(m.text, BIG, 71, 0) < 0, "the third message is not the pattern (type %ld, %zd bytes)",
          m.type, n);
    CHECK(text_is(&m, receive(id, &m, 3), 3, "four"), "no (3, four)");

    CHECK(send_text(id, 9, "bye") == 0, "msgsnd bye: %s", strerror(errno));
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child: status 0x%x (1: no (2, two), 2: no (9, bye))", status);
    msgctl(id, IPC_RMID, NULL);
    return h_finish();
}
