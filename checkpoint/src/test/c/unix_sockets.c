/*
 * unix_sockets: Unix stream, datagram and seqpacket sockets, listening and connected, named by a
 * path and by an abstract name, and unnamed, with data queued in both directions.
 *
 *   L1      SOCK_STREAM listener on STATEDIR/listen.sock, backlog 7 (the first socket: fd 3)
 *   C1, A1  a client of L1 (unnamed, O_NONBLOCK) and its accepted end (SO_PASSCRED);
 *           5000 bytes queued at A1 (two writes), 3000 at C1
 *   L2      SOCK_SEQPACKET listener on @pmig-unix-PID-listen, backlog 3
 *   C2, A2  a client of L2 bound to @pmig-unix-PID-client, and its accepted end;
 *           records of 1, 1000 and 64 bytes queued at A2, of 10 and 200 at C2
 *   D       SOCK_DGRAM on STATEDIR/dgram.sock, SO_PASSCRED, with datagrams queued from
 *   S1, S2, S3  SOCK_DGRAM on STATEDIR/sender.sock, unnamed, on @pmig-unix-PID-sender,
 *   DC      an unnamed SOCK_DGRAM connected to D,
 *   S5, S6  SOCK_DGRAM on @pmig-unix-PID-gone-sender and STATEDIR/gone-sender.sock, closed
 *           (and unlinked) since: S1 100 B, S2 1 B, S1 2000 B, S3 33 B, S2 0 B (empty), S1 7 B,
 *           DC 15 B, S5 21 B, S6 9 B
 *   P0, P1  socketpair(SOCK_SEQPACKET): records of 10, 500 and 3 bytes queued at P1, of 7 at P0
 *   Q0, Q1  socketpair(SOCK_STREAM): Q0 sent 100 bytes, then shutdown(SHUT_WR)
 *   OC, OA  a client of a stream listener on STATEDIR/gone.sock and its accepted end; the
 *           listener is closed since (its file stays); 20 bytes queued at OA, 30 at OC
 *   OC2, OA2  the same with a listener on @pmig-unix-PID-gone; 40 bytes queued at OA2
 *   R0      a stream socket whose peer (from socketpair) sent 50 bytes and closed
 *   B0, B1  socketpair(SOCK_STREAM), B0's send buffer forced to 4 MB, 1.5 MB queued at B1
 *
 * STATEDIR/mode, when the test writes it before the start, adds a forked child (setsid, its pid
 * in STATEDIR/child.pid) with a client connected to L1: "outside" accepts its connection (A3, a
 * peer outside the process), "pending" leaves it in L1's accept queue until go.
 *
 * After go: every queue holds what it held, in order, with its boundaries, senders and
 * credentials; names from getsockname/getpeername are as before; options and shutdown state are
 * kept; everything still works (new connections to both listeners, both backlogs as set).
 */
#include "harness.h"

#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define A1_DATA 5000
#define C1_DATA 3000
#define Q_DATA 100

static const size_t D_SIZES[] = {100, 1, 2000, 33, 0, 7, 15, 21, 9};
static const int D_FROM[] = {1, 2, 1, 3, 2, 1, 4, 5, 6}; /* S1, S2, S3, DC, S5, S6 */
#define D_COUNT 9
#define OA_DATA 20
#define OC_DATA 30
#define OA2_DATA 40
#define R_DATA 50
#define B_DATA (1536 * 1024)
static const size_t A2_SIZES[] = {1, 1000, 64};
static const size_t C2_SIZES[] = {10, 200};
static const size_t P1_SIZES[] = {10, 500, 3};
#define P0_SIZE 7

static int L1, C1, A1, L2, C2, A2, D, S1, S2, S3, DC, P0, P1, Q0, Q1, OC, OA, OC2, OA2, R0, B0, B1, A3 = -1, PENDING = -1;
static int b0_sndbuf;
static pid_t child = -1;
static char p_listen[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char p_dgram[sizeof p_listen], p_sender[sizeof p_listen];
static char p_gone[sizeof p_listen], p_gone_sender[sizeof p_listen];
static char n_listen[64], n_client[64], n_sender[64], n_gone[64], n_gone_sender[64];

/* A sockaddr_un for "/path" or "@abstract"; returns its length. */
static socklen_t addr_of(const char *name, struct sockaddr_un *a)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(name);
    if (name[0] == '@') {
        memcpy(a->sun_path + 1, name + 1, n - 1);
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    }
    memcpy(a->sun_path, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* "@name", "/path" or "" (unnamed) for an address the kernel returned. */
static void name_of(const struct sockaddr_un *a, socklen_t len, char *out, size_t cap)
{
    size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    if (n == 0) {
        out[0] = 0;
    } else if (a->sun_path[0] == 0) {
        snprintf(out, cap, "@%.*s", (int)(n - 1), a->sun_path + 1);
    } else {
        snprintf(out, cap, "%.*s", (int)strnlen(a->sun_path, n), a->sun_path);
    }
}

static int bound(int type, const char *name)
{
    int fd = socket(AF_UNIX, type, 0);
    struct sockaddr_un a;
    socklen_t len = addr_of(name, &a);
    SETUP(fd >= 0 && bind(fd, (struct sockaddr *)&a, len) == 0, "bind %s: %s", name, strerror(errno));
    return fd;
}

static int connect_to(int type, const char *name, int flags)
{
    int fd = socket(AF_UNIX, type | flags, 0);
    struct sockaddr_un a;
    socklen_t len = addr_of(name, &a);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, len) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        errno = e;
        return -1;
    }
    return fd;
}

static void send_pattern(int fd, size_t n, uint64_t seed, const char *what)
{
    unsigned char buf[8192];
    h_fill(buf, n, seed, 0);
    SETUP(send(fd, buf, n, 0) == (ssize_t)n, "%s: send %zu bytes: %s", what, n, strerror(errno));
}

static void sendto_pattern(int fd, size_t n, uint64_t seed, const char *to)
{
    unsigned char buf[8192];
    struct sockaddr_un a;
    socklen_t len = addr_of(to, &a);
    h_fill(buf, n, seed, 0);
    SETUP(sendto(fd, buf, n, 0, (struct sockaddr *)&a, len) == (ssize_t)n, "sendto %s %zu bytes: %s", to, n, strerror(errno));
}

/* Checks getsockname (local) or getpeername of fd against "" (unnamed), "/path" or "@name". */
static void check_name(int fd, int peer, const char *expected, const char *what)
{
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    char got[200];
    memset(&a, 0, sizeof a);
    int r = peer ? getpeername(fd, (struct sockaddr *)&a, &len) : getsockname(fd, (struct sockaddr *)&a, &len);
    if (r != 0) {
        h_fail("%s: %s: %s", what, peer ? "getpeername" : "getsockname", strerror(errno));
        return;
    }
    name_of(&a, len, got, sizeof got);
    CHECK(strcmp(got, expected) == 0, "%s: %s is '%s', expected '%s'", what, peer ? "peer name" : "name", got, expected);
    if (!expected[0]) {
        CHECK(len == sizeof(sa_family_t), "%s: unnamed address of length %u, expected %zu", what, (unsigned)len, sizeof(sa_family_t));
    }
}

/* Receives one message (with its sender and credentials) without waiting. Returns its length or -1. */
static ssize_t recv_one(int fd, void *buf, size_t cap, char *sender, size_t scap, struct ucred *cred, int *has_cred)
{
    struct sockaddr_un a;
    struct iovec iov = {buf, cap};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(struct ucred)) + 64];
    } control;
    struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = &iov, .msg_iovlen = 1,
                       .msg_control = &control, .msg_controllen = sizeof control};
    memset(&a, 0, sizeof a);
    ssize_t n = recvmsg(fd, &m, MSG_DONTWAIT);
    if (n < 0) {
        return -1;
    }
    if (sender) {
        name_of(&a, m.msg_namelen, sender, scap);
    }
    *has_cred = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && cred) {
            memcpy(cred, CMSG_DATA(c), sizeof *cred);
            *has_cred = 1;
        }
    }
    CHECK(!(m.msg_flags & MSG_TRUNC), "a message on fd %d was truncated", fd);
    return n;
}

/*
 * Reads exactly n stream bytes (the socket may be non-blocking: they must be there) and checks the
 * pattern; then nothing more may be queued (EAGAIN), or the stream must end (EOF) when at_end.
 */
static void check_stream(int fd, size_t n, uint64_t seed, const char *what, int want_cred, int at_end)
{
    unsigned char *buf = malloc(n + 1);
    size_t got = 0;
    while (got < n) {
        struct ucred cred;
        int has = 0;
        ssize_t r = recv_one(fd, buf + got, n - got, NULL, 0, &cred, &has);
        if (r <= 0) {
            h_fail("%s: %zu of %zu bytes, then %s", what, got, n, r == 0 ? "EOF" : strerror(errno));
            free(buf);
            return;
        }
        if (want_cred) {
            CHECK(has && cred.pid == getpid() && cred.uid == getuid() && cred.gid == getgid(),
                  "%s: credentials %s pid %d uid %u gid %u, expected pid %d", what, has ? "" : "(none)", has ? cred.pid : 0,
                  has ? cred.uid : 0, has ? cred.gid : 0, getpid());
        }
        got += (size_t)r;
    }
    long bad = h_check(buf, n, seed, 0);
    CHECK(bad < 0, "%s: byte %ld differs", what, bad);
    char extra;
    ssize_t r = recv(fd, &extra, 1, MSG_DONTWAIT);
    if (at_end) {
        CHECK(r == 0, "%s: no EOF after %zu bytes (%zd)", what, n, r);
    } else {
        CHECK(r == -1 && errno == EAGAIN, "%s: more than %zu bytes queued", what, n);
    }
    free(buf);
}

/* Reads records of the given sizes (seeds seed, seed+1...) and checks that nothing more is queued. */
static void check_records(int fd, const size_t *sizes, int count, uint64_t seed, const char *what)
{
    unsigned char buf[8192];
    for (int i = 0; i < count; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        CHECK(n == (ssize_t)sizes[i], "%s: record %d has %zd bytes, expected %zu (%s)", what, i, n, sizes[i],
              n < 0 ? strerror(errno) : "boundary lost?");
        if (n == (ssize_t)sizes[i]) {
            CHECK(h_check(buf, sizes[i], seed + (uint64_t)i, 0) < 0, "%s: record %d content differs", what, i);
        }
    }
    CHECK(recv(fd, buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "%s: more than %d records queued", what, count);
}

/* How many non-blocking clients the listener takes before EAGAIN (its backlog + 1); they are closed again. */
static int count_backlog(int type, const char *name)
{
    int fds[64], n = 0;
    while (n < 64) {
        int c = connect_to(type, name, SOCK_NONBLOCK);
        if (c < 0) {
            if (errno != EAGAIN) {
                h_fail("connect to %s: %s", name, strerror(errno));
            }
            break;
        }
        fds[n++] = c;
    }
    for (int i = 0; i < n; i++) {
        close(fds[i]);
    }
    return n;
}

/* A new client of a listener: connect, accept, one message each way, names as expected. */
static void check_new_connection(int listener, int type, const char *name, const char *what)
{
    int c = connect_to(type, name, 0);
    if (c < 0) {
        h_fail("%s: connect: %s", what, strerror(errno));
        return;
    }
    int a = accept(listener, NULL, NULL);
    if (a < 0) {
        h_fail("%s: accept: %s", what, strerror(errno));
        close(c);
        return;
    }
    char b[16] = {0};
    CHECK(send(c, "hello", 5, 0) == 5 && recv(a, b, sizeof b, 0) == 5 && memcmp(b, "hello", 5) == 0, "%s: client to server", what);
    CHECK(send(a, "world", 5, 0) == 5 && recv(c, b, sizeof b, 0) == 5 && memcmp(b, "world", 5) == 0, "%s: server to client", what);
    check_name(a, 0, name, what);
    check_name(c, 1, name, what);
    close(a);
    close(c);
}

/*
 * The peer of the "outside" and "pending" modes (h_fork_peer: not this program's child, so no parent-death
 * signal ties it to the program): a client of L1 that echoes until EOF, which the program's end brings.
 */
static void run_child(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        close(fd);
    }
    int c = connect_to(SOCK_STREAM, p_listen, 0);
    if (c < 0) {
        _exit(1);
    }
    char b[256];
    ssize_t n;
    while ((n = recv(c, b, sizeof b, 0)) > 0) {
        if (send(c, b, (size_t)n, MSG_NOSIGNAL) != n) {
            break;
        }
    }
    _exit(0);
}

static int int_opt(int fd, int level, int name)
{
    int v = -1;
    socklen_t l = sizeof v;
    getsockopt(fd, level, name, &v, &l);
    return v;
}

static void setup(void)
{
    pid_t pid = getpid();
    h_path(p_listen, sizeof p_listen, "listen.sock");
    h_path(p_dgram, sizeof p_dgram, "dgram.sock");
    h_path(p_sender, sizeof p_sender, "sender.sock");
    snprintf(n_listen, sizeof n_listen, "@pmig-unix-%d-listen", (int)pid);
    snprintf(n_client, sizeof n_client, "@pmig-unix-%d-client", (int)pid);
    snprintf(n_sender, sizeof n_sender, "@pmig-unix-%d-sender", (int)pid);
    snprintf(n_gone, sizeof n_gone, "@pmig-unix-%d-gone", (int)pid);
    snprintf(n_gone_sender, sizeof n_gone_sender, "@pmig-unix-%d-gone-sender", (int)pid);
    h_path(p_gone, sizeof p_gone, "gone.sock");
    h_path(p_gone_sender, sizeof p_gone_sender, "gone-sender.sock");
    unlink(p_listen);
    unlink(p_dgram);
    unlink(p_sender);
    unlink(p_gone);
    unlink(p_gone_sender);

    L1 = bound(SOCK_STREAM, p_listen);
    SETUP(listen(L1, 7) == 0, "listen L1: %s", strerror(errno));
    C1 = connect_to(SOCK_STREAM, p_listen, SOCK_NONBLOCK);
    SETUP(C1 >= 0, "connect C1: %s", strerror(errno));
    A1 = accept(L1, NULL, NULL);
    SETUP(A1 >= 0, "accept A1: %s", strerror(errno));
    int one = 1;
    SETUP(setsockopt(A1, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0, "SO_PASSCRED A1");
    send_pattern(C1, 2000, 10, "C1");
    {
        /* the second part of A1's 5000 bytes, continuing the pattern at offset 2000 */
        unsigned char buf[A1_DATA];
        h_fill(buf, A1_DATA, 10, 0);
        SETUP(send(C1, buf + 2000, A1_DATA - 2000, 0) == A1_DATA - 2000, "C1 second send: %s", strerror(errno));
    }
    send_pattern(A1, C1_DATA, 11, "A1");

    L2 = bound(SOCK_SEQPACKET, n_listen);
    SETUP(listen(L2, 3) == 0, "listen L2: %s", strerror(errno));
    C2 = bound(SOCK_SEQPACKET, n_client);
    {
        struct sockaddr_un a;
        socklen_t len = addr_of(n_listen, &a);
        SETUP(connect(C2, (struct sockaddr *)&a, len) == 0, "connect C2: %s", strerror(errno));
    }
    A2 = accept(L2, NULL, NULL);
    SETUP(A2 >= 0, "accept A2: %s", strerror(errno));
    for (int i = 0; i < 3; i++) {
        send_pattern(C2, A2_SIZES[i], 20 + (uint64_t)i, "C2");
    }
    for (int i = 0; i < 2; i++) {
        send_pattern(A2, C2_SIZES[i], 30 + (uint64_t)i, "A2");
    }

    D = bound(SOCK_DGRAM, p_dgram);
    SETUP(setsockopt(D, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0, "SO_PASSCRED D");
    S1 = bound(SOCK_DGRAM, p_sender);
    S2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    S3 = bound(SOCK_DGRAM, n_sender);
    DC = connect_to(SOCK_DGRAM, p_dgram, 0);
    SETUP(DC >= 0, "connect DC: %s", strerror(errno));
    int s5 = bound(SOCK_DGRAM, n_gone_sender), s6 = bound(SOCK_DGRAM, p_gone_sender);
    for (int i = 0; i < D_COUNT; i++) {
        int from = D_FROM[i] == 1 ? S1 : D_FROM[i] == 2 ? S2 : D_FROM[i] == 3 ? S3 : D_FROM[i] == 4 ? DC : D_FROM[i] == 5 ? s5 : s6;
        if (from == DC) {
            send_pattern(DC, D_SIZES[i], 40 + (uint64_t)i, "DC");
        } else {
            sendto_pattern(from, D_SIZES[i], 40 + (uint64_t)i, p_dgram);
        }
    }
    close(s5);
    close(s6);
    unlink(p_gone_sender);

    int sp[2];
    SETUP(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0, "socketpair seqpacket");
    P0 = sp[0];
    P1 = sp[1];
    for (int i = 0; i < 3; i++) {
        send_pattern(P0, P1_SIZES[i], 50 + (uint64_t)i, "P0");
    }
    send_pattern(P1, P0_SIZE, 55, "P1");

    SETUP(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair stream");
    Q0 = sp[0];
    Q1 = sp[1];
    send_pattern(Q0, Q_DATA, 60, "Q0");
    SETUP(shutdown(Q0, SHUT_WR) == 0, "shutdown Q0");

    int gone = bound(SOCK_STREAM, p_gone);
    SETUP(listen(gone, 1) == 0, "listen on gone.sock");
    OC = connect_to(SOCK_STREAM, p_gone, 0);
    OA = accept(gone, NULL, NULL);
    SETUP(OC >= 0 && OA >= 0, "connection through gone.sock: %s", strerror(errno));
    close(gone);
    send_pattern(OC, OA_DATA, 61, "OC");
    send_pattern(OA, OC_DATA, 62, "OA");
    gone = bound(SOCK_STREAM, n_gone);
    SETUP(listen(gone, 1) == 0, "listen on @gone");
    OC2 = connect_to(SOCK_STREAM, n_gone, 0);
    OA2 = accept(gone, NULL, NULL);
    SETUP(OC2 >= 0 && OA2 >= 0, "connection through @gone: %s", strerror(errno));
    close(gone);
    send_pattern(OC2, OA2_DATA, 63, "OC2");

    SETUP(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair R");
    R0 = sp[0];
    send_pattern(sp[1], R_DATA, 64, "R1");
    close(sp[1]);

    SETUP(socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0, "socketpair B");
    B0 = sp[0];
    B1 = sp[1];
    int big = 4 << 20;
    SETUP(setsockopt(B0, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) == 0, "SO_SNDBUFFORCE B0: %s", strerror(errno));
    b0_sndbuf = int_opt(B0, SOL_SOCKET, SO_SNDBUF);
    {
        unsigned char *buf = malloc(B_DATA);
        h_fill(buf, B_DATA, 65, 0);
        size_t done = 0;
        while (done < B_DATA) {
            ssize_t n = send(B0, buf + done, B_DATA - done, MSG_DONTWAIT);
            SETUP(n > 0, "B0 send after %zu bytes: %s", done, strerror(errno));
            done += (size_t)n;
        }
        free(buf);
    }

    char mode[32] = "", path[4096];
    h_path(path, sizeof path, "mode");
    h_read_file(path, mode, sizeof mode);
    if (strncmp(mode, "outside", 7) == 0 || strncmp(mode, "pending", 7) == 0) {
        child = h_fork_peer();
        SETUP(child >= 0, "fork: %s", strerror(errno));
        if (child == 0) {
            run_child();
        }
        char pidtext[32];
        snprintf(pidtext, sizeof pidtext, "%d\n", (int)child);
        SETUP(h_write_file("child.pid", pidtext) == 0, "write child.pid");
        if (mode[0] == 'o') {
            A3 = accept(L1, NULL, NULL);
            SETUP(A3 >= 0, "accept A3: %s", strerror(errno));
        } else {
            struct pollfd p = {.fd = L1, .events = POLLIN};
            SETUP(poll(&p, 1, 10000) == 1, "the child's connection did not come");
            PENDING = 1;
        }
    }
}

static void verify(void)
{
    /* names */
    check_name(L1, 0, p_listen, "L1");
    check_name(A1, 0, p_listen, "A1");
    check_name(A1, 1, "", "A1");
    check_name(C1, 0, "", "C1");
    check_name(C1, 1, p_listen, "C1");
    check_name(L2, 0, n_listen, "L2");
    check_name(A2, 0, n_listen, "A2");
    check_name(A2, 1, n_client, "A2");
    check_name(C2, 0, n_client, "C2");
    check_name(C2, 1, n_listen, "C2");
    check_name(D, 0, p_dgram, "D");
    check_name(S1, 0, p_sender, "S1");
    check_name(S2, 0, "", "S2");
    check_name(S3, 0, n_sender, "S3");
    check_name(P0, 0, "", "P0");
    check_name(P0, 1, "", "P0");
    check_name(DC, 0, "", "DC");
    check_name(DC, 1, p_dgram, "DC");
    check_name(OA, 0, p_gone, "OA (its listener closed)");
    check_name(OA, 1, "", "OA");
    check_name(OC, 0, "", "OC");
    check_name(OC, 1, p_gone, "OC");
    check_name(OA2, 0, n_gone, "OA2 (its listener closed)");
    check_name(OC2, 1, n_gone, "OC2");

    /* types and options */
    CHECK(int_opt(L1, SOL_SOCKET, SO_TYPE) == SOCK_STREAM && int_opt(L1, SOL_SOCKET, SO_ACCEPTCONN) == 1, "L1 not a stream listener");
    CHECK(int_opt(L2, SOL_SOCKET, SO_TYPE) == SOCK_SEQPACKET && int_opt(L2, SOL_SOCKET, SO_ACCEPTCONN) == 1, "L2 not a seqpacket listener");
    CHECK(int_opt(A2, SOL_SOCKET, SO_TYPE) == SOCK_SEQPACKET, "A2 not seqpacket");
    CHECK(int_opt(D, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM, "D not datagram");
    CHECK(int_opt(P0, SOL_SOCKET, SO_TYPE) == SOCK_SEQPACKET, "P0 not seqpacket");
    CHECK(int_opt(A1, SOL_SOCKET, SO_PASSCRED) == 1, "SO_PASSCRED lost on A1");
    CHECK(int_opt(D, SOL_SOCKET, SO_PASSCRED) == 1, "SO_PASSCRED lost on D");
    CHECK(int_opt(C1, SOL_SOCKET, SO_PASSCRED) == 0, "SO_PASSCRED set on C1");
    CHECK((fcntl(C1, F_GETFL) & O_NONBLOCK) != 0, "O_NONBLOCK lost on C1");
    CHECK((fcntl(A1, F_GETFL) & O_NONBLOCK) == 0, "O_NONBLOCK set on A1");

    /* stream data, both ways, with credentials where SO_PASSCRED is on */
    check_stream(A1, A1_DATA, 10, "stream data at A1", 1, 0);
    check_stream(C1, C1_DATA, 11, "stream data at C1", 0, 0);
    CHECK(send(C1, "more", 4, 0) == 4, "C1 send after go: %s", strerror(errno));
    {
        char b[8] = {0};
        CHECK(recv(A1, b, sizeof b, 0) == 4 && memcmp(b, "more", 4) == 0, "C1 to A1 after go");
        CHECK(send(A1, "back", 4, 0) == 4, "A1 send after go");
        struct pollfd p = {.fd = C1, .events = POLLIN};
        poll(&p, 1, 2000);
        CHECK(recv(C1, b, sizeof b, 0) == 4 && memcmp(b, "back", 4) == 0, "A1 to C1 after go");
    }

    /* seqpacket records, both ways */
    check_records(A2, A2_SIZES, 3, 20, "seqpacket records at A2");
    check_records(C2, C2_SIZES, 2, 30, "seqpacket records at C2");
    check_records(P1, P1_SIZES, 3, 50, "seqpacket pair records at P1");
    {
        size_t p0[] = {P0_SIZE};
        check_records(P0, p0, 1, 55, "seqpacket pair record at P0");
        char b[8] = {0};
        CHECK(send(C2, "abc", 3, 0) == 3 && recv(A2, b, sizeof b, 0) == 3, "C2 to A2 after go");
        CHECK(send(P1, "xy", 2, 0) == 2 && recv(P0, b, sizeof b, 0) == 2, "P1 to P0 after go");
    }

    /* datagrams with their senders and credentials */
    for (int i = 0; i < D_COUNT; i++) {
        unsigned char buf[8192];
        char sender[200];
        struct ucred cred;
        int has = 0;
        ssize_t n = recv_one(D, buf, sizeof buf, sender, sizeof sender, &cred, &has);
        const char *expected = D_FROM[i] == 1 ? p_sender : D_FROM[i] == 3 ? n_sender : D_FROM[i] == 5 ? n_gone_sender
                             : D_FROM[i] == 6 ? p_gone_sender : "";
        CHECK(n == (ssize_t)D_SIZES[i], "datagram %d: %zd bytes, expected %zu (%s)", i, n, D_SIZES[i], n < 0 ? strerror(errno) : "");
        if (n != (ssize_t)D_SIZES[i]) {
            continue;
        }
        CHECK(h_check(buf, D_SIZES[i], 40 + (uint64_t)i, 0) < 0, "datagram %d content differs", i);
        CHECK(strcmp(sender, expected) == 0, "datagram %d from '%s', expected '%s'", i, sender, expected);
        CHECK(has && cred.pid == getpid() && cred.uid == getuid() && cred.gid == getgid(),
              "datagram %d: credentials %s pid %d, expected %d", i, has ? "" : "(none)", has ? cred.pid : 0, getpid());
    }
    {
        unsigned char buf[64];
        CHECK(recv(D, buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "more than %d datagrams at D", D_COUNT);
        sendto_pattern(S1, 12, 70, p_dgram);
        char sender[200];
        struct ucred cred;
        int has;
        CHECK(recv_one(D, buf, sizeof buf, sender, sizeof sender, &cred, &has) == 12 && strcmp(sender, p_sender) == 0,
              "datagram from S1 after go: from '%s'", sender);
        CHECK(send(DC, "dc", 2, 0) == 2, "DC send after go: %s", strerror(errno));
        CHECK(recv_one(D, buf, sizeof buf, sender, sizeof sender, &cred, &has) == 2 && sender[0] == 0,
              "datagram from DC after go: from '%s'", sender);
        struct stat st;
        CHECK(lstat(p_gone_sender, &st) == -1 && errno == ENOENT, "%s exists (a sender's name bound for the restore, left behind?)",
              p_gone_sender);
    }

    /* connections whose listener had closed: their data, and the names are not held by anyone */
    check_stream(OA, OA_DATA, 61, "stream data at OA", 0, 0);
    check_stream(OC, OC_DATA, 62, "stream data at OC", 0, 0);
    check_stream(OA2, OA2_DATA, 63, "stream data at OA2", 0, 0);
    {
        char b[8] = {0};
        CHECK(send(OC, "oc", 2, 0) == 2 && recv(OA, b, sizeof b, 0) == 2, "OC to OA after go");
        int c = connect_to(SOCK_STREAM, n_gone, 0);
        CHECK(c < 0 && errno == ECONNREFUSED, "%s is held by a socket after the restore (%s)", n_gone, c < 0 ? strerror(errno) : "connected");
        if (c >= 0) {
            close(c);
        }
        struct stat st;
        CHECK(lstat(p_gone, &st) == 0 && S_ISSOCK(st.st_mode), "%s (the closed listener's socket file) is gone", p_gone);
        c = connect_to(SOCK_STREAM, p_gone, 0);
        CHECK(c < 0 && errno == ECONNREFUSED, "%s is listened on after the restore (%s)", p_gone, c < 0 ? strerror(errno) : "connected");
        if (c >= 0) {
            close(c);
        }
    }

    /* a stream whose peer closed: its data, then EOF; sending fails */
    check_stream(R0, R_DATA, 64, "stream data at R0", 0, 1);
    CHECK(send(R0, "r", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE, "R0 can send to its closed peer (%s)", strerror(errno));

    /* a big stream queue and the send buffer that held it */
    CHECK(int_opt(B0, SOL_SOCKET, SO_SNDBUF) == b0_sndbuf, "B0's SO_SNDBUF is %d, was %d", int_opt(B0, SOL_SOCKET, SO_SNDBUF), b0_sndbuf);
    check_stream(B1, B_DATA, 65, "stream data at B1", 0, 0);

    /* a half-closed stream: Q1 reads Q0's bytes, then EOF; Q0 may not send, Q1 may */
    check_stream(Q1, Q_DATA, 60, "stream data at Q1", 0, 1);
    {
        char b[8];
        CHECK(send(Q0, "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE, "Q0 can send after shutdown(SHUT_WR)");
        CHECK(send(Q1, "y", 1, MSG_NOSIGNAL) == 1 && recv(Q0, b, sizeof b, 0) == 1 && b[0] == 'y', "Q1 to Q0 after go");
    }

    /* the listeners: the child's connection, if pending, comes first; new connections; their backlogs */
    if (PENDING > 0) {
        A3 = accept(L1, NULL, NULL);
        CHECK(A3 >= 0, "accept of the pending connection: %s", strerror(errno));
    }
    check_new_connection(L1, SOCK_STREAM, p_listen, "new connection to L1");
    check_new_connection(L2, SOCK_SEQPACKET, n_listen, "new connection to L2");
    int n1 = count_backlog(SOCK_STREAM, p_listen);
    CHECK(n1 == 8, "L1 took %d pending connections, expected 8 (backlog 7)", n1);
    int n2 = count_backlog(SOCK_SEQPACKET, n_listen);
    CHECK(n2 == 4, "L2 took %d pending connections, expected 4 (backlog 3)", n2);

    /* the child's connection, where there is one */
    if (A3 >= 0) {
        char b[8] = {0};
        CHECK(send(A3, "echo", 4, 0) == 4 && recv(A3, b, sizeof b, 0) == 4 && memcmp(b, "echo", 4) == 0, "no echo from the child");
    }
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    setup();
    h_ready();
    h_wait_go();
    verify();
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    return h_finish();
}
