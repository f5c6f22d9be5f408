/*
 * exact_fds: flags and options of descriptors that a restore once gave back differently.
 *
 *  - pipes: one pipe with only its read end O_NONBLOCK, one with only its write end O_NONBLOCK, and a
 *    second open file description of a pipe's read end (reopened through /proc/self/fd) with other flags;
 *  - a FIFO held write-only (its reader closed) with data in it: a reader opened after go gets the data;
 *  - a periodic timerfd that expired several times without being read (ticks counted on the next read,
 *    timer still running), a one-shot timerfd with ~1000 s left;
 *  - UDP sockets after shutdown(SHUT_WR) (connected and not): send fails with EPIPE;
 *  - TCP listeners with SO_REUSEADDR on IPv4, IPv6 and IPv4-mapped IPv6, and a connection (both ends
 *    here) with SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, TCP_NODELAY and keepalive timings;
 *  - a POSIX write lock on part of a file, an OFD read lock and a flock() lock on other files: a child
 *    process sees them held by this process after go;
 *  - O_PATH descriptors of a file and a directory (fstat and openat through them work);
 *  - two TCP listeners sharing one port with SO_REUSEPORT, the first of which turned it off since, and two UDP
 *    sockets the same way;
 *  - an epoll set watching an eventfd through two descriptors of it (a dup): both watches report;
 *  - socket options no other program sets: a TCP socket with SO_DONTROUTE, SO_NO_CHECK, SO_BINDTODEVICE "lo" and
 *    SO_BUF_LOCK, a Unix socket with SO_PASSSEC; the accepted connection's buffers stay unlocked (autotuned);
 *  - a UDP socket and a TCP listener bound with IP_FREEBIND to an address the host lacks (TEST-NET-1), the option
 *    turned off since: their addresses come back and the option stays off;
 *  - SIGTRAP ignored (a trap of the checkpoint's own would reset it to the default, which kills).
 */
#include "harness.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

enum {
    FD_P1R = 20, FD_P1W, FD_P2R, FD_P2W, FD_P1R_AGAIN, FD_FIFO_W, FD_TFD_PERIODIC, FD_TFD_ONESHOT,
    FD_UDP_CONNECTED, FD_UDP_UNCONNECTED, FD_L4, FD_L6, FD_LMAPPED, FD_CONN_CLIENT, FD_CONN_SERVER,
    FD_LOCK_POSIX, FD_LOCK_OFD, FD_LOCK_FLOCK, FD_OPATH_FILE, FD_OPATH_DIR, FD_REUSEPORT_A, FD_REUSEPORT_B, FD_EPOLL,
    FD_EVENTFD, FD_EVENTFD_DUP, FD_TCP_OPTIONS, FD_UNIX_PASSSEC, FD_UDP_FOREIGN, FD_TCP_FOREIGN,
    FD_UDP_REUSEPORT_A, FD_UDP_REUSEPORT_B
};

#ifndef SO_BUF_LOCK
#define SO_BUF_LOCK 72
#endif
#ifndef SOCK_SNDBUF_LOCK
#define SOCK_SNDBUF_LOCK 1
#endif

static char fifo_path[4096], lock_path[3][4096];
static const char FIFO_DATA[] = "written before the checkpoint, reader gone";

static void place(int fd, int target)
{
    SETUP(fd >= 0, "creating fd %d: %s", target, strerror(errno));
    if (fd != target) {
        SETUP(dup2(fd, target) == target, "dup2 %d: %s", target, strerror(errno));
        close(fd);
    }
}

static int nonblocking(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static int getint(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) != 0) {
        return -1000 - errno;
    }
    return v;
}

static void setint(int fd, int level, int name, int v, const char *what)
{
    SETUP(setsockopt(fd, level, name, &v, sizeof v) == 0, "setsockopt %s: %s", what, strerror(errno));
}

static int tcp_listener(int family, const char *address, int v6only)
{
    int fd = socket(family, SOCK_STREAM, 0);
    setint(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (family == AF_INET6) {
        setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only, "IPV6_V6ONLY");
    }
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, address, &a->sin_addr);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, address, &a->sin6_addr);
        len = sizeof *a;
    }
    SETUP(bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, 8) == 0, "listen on %s: %s", address, strerror(errno));
    return fd;
}

static void lock_file(int which, char *path, size_t cap)
{
    static const char *names[] = {"posix.lock", "ofd.lock", "flock.lock"};
    h_path(path, cap, names[which]);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    SETUP(fd >= 0 && ftruncate(fd, 4096) == 0, "lock file %s: %s", path, strerror(errno));
    place(fd, FD_LOCK_POSIX + which);
}

/* In a child: the lock a write lock on [start, start+len) of path meets, as F_GETLK (or F_OFD_GETLK) sees it. */
static void expect_lock(const char *path, int cmd, short type, off_t start, off_t len, pid_t owner, const char *what)
{
    pid_t child = fork();
    if (child == 0) {
        int fd = open(path, O_RDWR);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
        if (fd < 0 || fcntl(fd, cmd, &fl) != 0) {
            _exit(10);
        }
        if (fl.l_type != type) {
            _exit(11);
        }
        if (owner != 0 && fl.l_pid != owner) {
            _exit(12);
        }
        if (fl.l_start != start || fl.l_len != len) {
            _exit(13);
        }
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: lock not held as before (child status %d)", what,
          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void expect_flock_held(const char *path)
{
    pid_t child = fork();
    if (child == 0) {
        int fd = open(path, O_RDONLY);
        _exit(fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "flock: the exclusive lock is no longer held");
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    SETUP(signal(SIGTRAP, SIG_IGN) != SIG_ERR, "ignoring SIGTRAP: %s", strerror(errno));

    int p[2];
    SETUP(pipe(p) == 0, "pipe");
    place(p[0], FD_P1R);
    place(p[1], FD_P1W);
    fcntl(FD_P1R, F_SETFL, O_NONBLOCK);
    SETUP(pipe(p) == 0, "pipe");
    place(p[0], FD_P2R);
    place(p[1], FD_P2W);
    fcntl(FD_P2W, F_SETFL, O_NONBLOCK);
    char self_fd[64];
    snprintf(self_fd, sizeof self_fd, "/proc/self/fd/%d", FD_P1R);
    place(open(self_fd, O_RDONLY), FD_P1R_AGAIN); /* another description of P1's read end, blocking */

    h_path(fifo_path, sizeof fifo_path, "fifo");
    SETUP(mkfifo(fifo_path, 0600) == 0, "mkfifo: %s", strerror(errno));
    int reader = open(fifo_path, O_RDONLY | O_NONBLOCK);
    SETUP(reader >= 0, "open fifo reader: %s", strerror(errno));
    place(open(fifo_path, O_WRONLY), FD_FIFO_W);
    SETUP(write(FD_FIFO_W, FIFO_DATA, sizeof FIFO_DATA) == (ssize_t)sizeof FIFO_DATA, "fifo write");
    close(reader);

    place(timerfd_create(CLOCK_MONOTONIC, 0), FD_TFD_PERIODIC);
    struct itimerspec periodic = {.it_interval = {0, 20 * 1000000L}, .it_value = {0, 20 * 1000000L}};
    SETUP(timerfd_settime(FD_TFD_PERIODIC, 0, &periodic, NULL) == 0, "timerfd_settime");
    place(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), FD_TFD_ONESHOT);
    struct itimerspec oneshot = {.it_value = {1000, 0}};
    SETUP(timerfd_settime(FD_TFD_ONESHOT, 0, &oneshot, NULL) == 0, "timerfd_settime");
    long long armed_at = h_now_ns(CLOCK_MONOTONIC);

    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(9)};
    place(socket(AF_INET, SOCK_DGRAM, 0), FD_UDP_CONNECTED);
    SETUP(connect(FD_UDP_CONNECTED, (struct sockaddr *)&lo, sizeof lo) == 0, "udp connect");
    SETUP(shutdown(FD_UDP_CONNECTED, SHUT_WR) == 0, "udp shutdown: %s", strerror(errno));
    place(socket(AF_INET, SOCK_DGRAM, 0), FD_UDP_UNCONNECTED);
    struct sockaddr_in any_port = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    SETUP(bind(FD_UDP_UNCONNECTED, (struct sockaddr *)&any_port, sizeof any_port) == 0, "udp bind");
    shutdown(FD_UDP_UNCONNECTED, SHUT_WR); /* ENOTCONN, but the kernel records it all the same */

    place(tcp_listener(AF_INET, "127.0.0.1", 0), FD_L4);
    place(tcp_listener(AF_INET6, "::1", 1), FD_L6);
    place(tcp_listener(AF_INET6, "::ffff:127.0.0.1", 0), FD_LMAPPED);
    struct sockaddr_in6 mapped;
    socklen_t mlen = sizeof mapped;
    getsockname(FD_LMAPPED, (struct sockaddr *)&mapped, &mlen);
    place(socket(AF_INET6, SOCK_STREAM, 0), FD_CONN_CLIENT);
    setint(FD_CONN_CLIENT, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    SETUP(connect(FD_CONN_CLIENT, (struct sockaddr *)&mapped, mlen) == 0, "connect: %s", strerror(errno));
    place(accept(FD_LMAPPED, NULL, NULL), FD_CONN_SERVER);
    setint(FD_CONN_SERVER, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
    setint(FD_CONN_SERVER, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
    setint(FD_CONN_SERVER, IPPROTO_TCP, TCP_KEEPIDLE, 77, "TCP_KEEPIDLE");
    struct linger linger = {.l_onoff = 1, .l_linger = 5};
    SETUP(setsockopt(FD_CONN_SERVER, SOL_SOCKET, SO_LINGER, &linger, sizeof linger) == 0, "SO_LINGER");

    for (int i = 0; i < 3; i++) {
        lock_file(i, lock_path[i], sizeof lock_path[i]);
    }
    struct flock posix = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 50};
    SETUP(fcntl(FD_LOCK_POSIX, F_SETLK, &posix) == 0, "F_SETLK: %s", strerror(errno));
    struct flock ofd = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    SETUP(fcntl(FD_LOCK_OFD, F_OFD_SETLK, &ofd) == 0, "F_OFD_SETLK: %s", strerror(errno));
    SETUP(flock(FD_LOCK_FLOCK, LOCK_EX) == 0, "flock: %s", strerror(errno));

    char dir_path[4096];
    h_path(dir_path, sizeof dir_path, "");
    place(open(lock_path[0], O_PATH), FD_OPATH_FILE);
    place(open(dir_path, O_PATH | O_DIRECTORY), FD_OPATH_DIR);

    place(socket(AF_INET, SOCK_STREAM, 0), FD_REUSEPORT_A);
    place(socket(AF_INET, SOCK_STREAM, 0), FD_REUSEPORT_B);
    setint(FD_REUSEPORT_A, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    setint(FD_REUSEPORT_B, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    struct sockaddr_in shared = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t slen = sizeof shared;
    SETUP(bind(FD_REUSEPORT_A, (struct sockaddr *)&shared, slen) == 0 && listen(FD_REUSEPORT_A, 4) == 0, "reuseport A: %s",
          strerror(errno));
    getsockname(FD_REUSEPORT_A, (struct sockaddr *)&shared, &slen);
    SETUP(bind(FD_REUSEPORT_B, (struct sockaddr *)&shared, slen) == 0 && listen(FD_REUSEPORT_B, 4) == 0, "reuseport B: %s",
          strerror(errno));
    setint(FD_REUSEPORT_A, SOL_SOCKET, SO_REUSEPORT, 0, "SO_REUSEPORT off");
    struct sockaddr_in udp_shared = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t ulen = sizeof udp_shared;
    for (int fd = FD_UDP_REUSEPORT_A; fd <= FD_UDP_REUSEPORT_B; fd++) {
        place(socket(AF_INET, SOCK_DGRAM, 0), fd);
        setint(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
        SETUP(bind(fd, (struct sockaddr *)&udp_shared, ulen) == 0, "UDP reuseport bind: %s", strerror(errno));
        getsockname(fd, (struct sockaddr *)&udp_shared, &ulen);
    }
    setint(FD_UDP_REUSEPORT_A, SOL_SOCKET, SO_REUSEPORT, 0, "SO_REUSEPORT off");

    place(epoll_create1(0), FD_EPOLL);
    place(eventfd(1, 0), FD_EVENTFD);
    place(dup(FD_EVENTFD), FD_EVENTFD_DUP);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
    SETUP(epoll_ctl(FD_EPOLL, EPOLL_CTL_ADD, FD_EVENTFD, &ev) == 0, "epoll_ctl: %s", strerror(errno));
    ev.data.u64 = 2;
    SETUP(epoll_ctl(FD_EPOLL, EPOLL_CTL_ADD, FD_EVENTFD_DUP, &ev) == 0, "epoll_ctl dup: %s", strerror(errno));

    place(socket(AF_INET, SOCK_STREAM, 0), FD_TCP_OPTIONS);
    setint(FD_TCP_OPTIONS, SOL_SOCKET, SO_DONTROUTE, 1, "SO_DONTROUTE");
    setint(FD_TCP_OPTIONS, SOL_SOCKET, SO_NO_CHECK, 1, "SO_NO_CHECK");
    setint(FD_TCP_OPTIONS, SOL_SOCKET, SO_BUF_LOCK, SOCK_SNDBUF_LOCK, "SO_BUF_LOCK");
    SETUP(setsockopt(FD_TCP_OPTIONS, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) == 0, "SO_BINDTODEVICE: %s", strerror(errno));
    place(socket(AF_UNIX, SOCK_STREAM, 0), FD_UNIX_PASSSEC);
    setint(FD_UNIX_PASSSEC, SOL_SOCKET, SO_PASSSEC, 1, "SO_PASSSEC");

    struct sockaddr_in foreign = {.sin_family = AF_INET, .sin_port = htons(40999)};
    inet_pton(AF_INET, "192.0.2.77", &foreign.sin_addr);
    for (int i = 0; i < 2; i++) {
        int fd = i == 0 ? FD_UDP_FOREIGN : FD_TCP_FOREIGN;
        place(socket(AF_INET, i == 0 ? SOCK_DGRAM : SOCK_STREAM, 0), fd);
        setint(fd, IPPROTO_IP, IP_FREEBIND, 1, "IP_FREEBIND");
        SETUP(bind(fd, (struct sockaddr *)&foreign, sizeof foreign) == 0, "bind to 192.0.2.77: %s", strerror(errno));
        SETUP(i == 0 || listen(fd, 4) == 0, "listen on 192.0.2.77: %s", strerror(errno));
        setint(fd, IPPROTO_IP, IP_FREEBIND, 0, "IP_FREEBIND off");
    }

    /* let the periodic timer expire several times unread */
    h_sleep_ms(100);

    h_ready();
    h_wait_go();

    CHECK(nonblocking(FD_P1R) && !nonblocking(FD_P1W), "pipe 1: read end O_NONBLOCK %d, write end %d (were 1, 0)",
          nonblocking(FD_P1R), nonblocking(FD_P1W));
    CHECK(!nonblocking(FD_P2R) && nonblocking(FD_P2W), "pipe 2: read end O_NONBLOCK %d, write end %d (were 0, 1)",
          nonblocking(FD_P2R), nonblocking(FD_P2W));
    CHECK(!nonblocking(FD_P1R_AGAIN), "the second description of pipe 1's read end became O_NONBLOCK");
    char c;
    CHECK(read(FD_P1R, &c, 1) < 0 && errno == EAGAIN, "pipe 1's empty non-blocking read end did not say EAGAIN");

    int fifo_reader = open(fifo_path, O_RDONLY | O_NONBLOCK);
    char got[sizeof FIFO_DATA] = {0};
    ssize_t n = read(fifo_reader, got, sizeof got);
    CHECK(n == (ssize_t)sizeof FIFO_DATA && memcmp(got, FIFO_DATA, sizeof got) == 0,
          "FIFO held write-only: a reader got %zd bytes, expected %zu", n, sizeof FIFO_DATA);
    close(fifo_reader);

    uint64_t ticks = 0;
    long long elapsed_ms = (h_now_ns(CLOCK_MONOTONIC) - armed_at) / 1000000LL;
    CHECK(read(FD_TFD_PERIODIC, &ticks, 8) == 8, "periodic timerfd read: %s", strerror(errno));
    /* 20 ms period: at least the expirations of the 100 ms before ready, at most those of all the time since */
    CHECK(ticks >= 4 && (long long)ticks <= elapsed_ms / 20 + 1, "periodic timerfd: %llu expirations after %lld ms",
          (unsigned long long)ticks, elapsed_ms);
    CHECK(read(FD_TFD_PERIODIC, &ticks, 8) == 8 && ticks >= 1, "the periodic timerfd stopped running");
    struct itimerspec left;
    timerfd_gettime(FD_TFD_ONESHOT, &left);
    long long left_ms = left.it_value.tv_sec * 1000LL + left.it_value.tv_nsec / 1000000;
    elapsed_ms = (h_now_ns(CLOCK_MONOTONIC) - armed_at) / 1000000LL;
    CHECK(left_ms > 0 && left_ms <= 1000000 - elapsed_ms + 50, "one-shot timerfd: %lld ms left after %lld ms of 1000 s",
          left_ms, elapsed_ms);

    CHECK(send(FD_UDP_CONNECTED, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
          "connected UDP socket after shutdown(SHUT_WR) could send again");
    CHECK(sendto(FD_UDP_UNCONNECTED, "x", 1, MSG_NOSIGNAL, (struct sockaddr *)&lo, sizeof lo) < 0 && errno == EPIPE,
          "unconnected UDP socket after shutdown(SHUT_WR) could send again");

    CHECK(getint(FD_L4, SOL_SOCKET, SO_REUSEADDR) == 1, "IPv4 listener lost SO_REUSEADDR");
    CHECK(getint(FD_L6, SOL_SOCKET, SO_REUSEADDR) == 1, "IPv6 listener lost SO_REUSEADDR");
    CHECK(getint(FD_L6, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "IPv6 listener lost IPV6_V6ONLY");
    CHECK(getint(FD_LMAPPED, SOL_SOCKET, SO_REUSEADDR) == 1, "IPv4-mapped listener lost SO_REUSEADDR");
    CHECK(getint(FD_CONN_CLIENT, SOL_SOCKET, SO_REUSEADDR) == 1, "connected socket lost SO_REUSEADDR");
    CHECK(getint(FD_CONN_SERVER, SOL_SOCKET, SO_KEEPALIVE) == 1, "accepted socket lost SO_KEEPALIVE");
    CHECK(getint(FD_CONN_SERVER, IPPROTO_TCP, TCP_NODELAY) == 1, "accepted socket lost TCP_NODELAY");
    CHECK(getint(FD_CONN_SERVER, IPPROTO_TCP, TCP_KEEPIDLE) == 77, "accepted socket's TCP_KEEPIDLE is %d",
          getint(FD_CONN_SERVER, IPPROTO_TCP, TCP_KEEPIDLE));
    struct linger l2 = {0};
    socklen_t llen = sizeof l2;
    getsockopt(FD_CONN_SERVER, SOL_SOCKET, SO_LINGER, &l2, &llen);
    CHECK(l2.l_onoff == 1 && l2.l_linger == 5, "accepted socket's SO_LINGER is %d/%d, was 1/5", l2.l_onoff, l2.l_linger);
    CHECK(send(FD_CONN_CLIENT, "ping", 4, 0) == 4, "send on the connection: %s", strerror(errno));
    char ping[4];
    CHECK(h_read_all(FD_CONN_SERVER, ping, 4) == 4 && memcmp(ping, "ping", 4) == 0, "the connection lost a byte");

    struct stat st;
    CHECK(fstat(FD_OPATH_FILE, &st) == 0 && S_ISREG(st.st_mode) && (fcntl(FD_OPATH_FILE, F_GETFL) & O_PATH),
          "O_PATH file descriptor: %s", strerror(errno));
    int inner = openat(FD_OPATH_DIR, "ready", O_RDONLY); /* not a locked file: a close would drop its POSIX lock */
    CHECK(inner >= 0 && (fcntl(FD_OPATH_DIR, F_GETFL) & O_PATH), "openat through the O_PATH directory: %s", strerror(errno));
    close(inner);

    struct sockaddr_in a = {0}, b = {0};
    socklen_t la = sizeof a, lb = sizeof b;
    getsockname(FD_REUSEPORT_A, (struct sockaddr *)&a, &la);
    getsockname(FD_REUSEPORT_B, (struct sockaddr *)&b, &lb);
    CHECK(a.sin_port == b.sin_port && a.sin_port != 0 && getint(FD_REUSEPORT_B, SOL_SOCKET, SO_REUSEPORT) == 1
              && getint(FD_REUSEPORT_A, SOL_SOCKET, SO_REUSEPORT) == 0,
          "SO_REUSEPORT listeners: ports %d and %d, SO_REUSEPORT %d and %d (were 0 and 1)", ntohs(a.sin_port), ntohs(b.sin_port),
          getint(FD_REUSEPORT_A, SOL_SOCKET, SO_REUSEPORT), getint(FD_REUSEPORT_B, SOL_SOCKET, SO_REUSEPORT));

    getsockname(FD_UDP_REUSEPORT_A, (struct sockaddr *)&a, &la);
    getsockname(FD_UDP_REUSEPORT_B, (struct sockaddr *)&b, &lb);
    CHECK(a.sin_port == b.sin_port && a.sin_port == udp_shared.sin_port && getint(FD_UDP_REUSEPORT_A, SOL_SOCKET, SO_REUSEPORT) == 0
              && getint(FD_UDP_REUSEPORT_B, SOL_SOCKET, SO_REUSEPORT) == 1,
          "UDP SO_REUSEPORT sockets: ports %d and %d, SO_REUSEPORT %d and %d (were %d, 0 and 1)", ntohs(a.sin_port),
          ntohs(b.sin_port), getint(FD_UDP_REUSEPORT_A, SOL_SOCKET, SO_REUSEPORT), getint(FD_UDP_REUSEPORT_B, SOL_SOCKET, SO_REUSEPORT),
          ntohs(udp_shared.sin_port));

    struct epoll_event got_ev[4];
    int nev = epoll_wait(FD_EPOLL, got_ev, 4, 0);
    CHECK(nev == 2 && got_ev[0].data.u64 + got_ev[1].data.u64 == 3, "epoll over an eventfd and its dup: %d events", nev);

    expect_lock(lock_path[0], F_GETLK, F_WRLCK, 100, 50, getpid(), "POSIX write lock on 100-149");
    expect_lock(lock_path[1], F_OFD_GETLK, F_RDLCK, 0, 10, -1, "OFD read lock on 0-9");
    expect_flock_held(lock_path[2]);
    CHECK(getint(FD_CONN_SERVER, SOL_SOCKET, SO_BUF_LOCK) == 0, "the accepted connection's buffers became locked (%d)",
          getint(FD_CONN_SERVER, SOL_SOCKET, SO_BUF_LOCK));
    char device[16] = {0};
    socklen_t dlen = sizeof device;
    getsockopt(FD_TCP_OPTIONS, SOL_SOCKET, SO_BINDTODEVICE, device, &dlen);
    CHECK(strcmp(device, "lo") == 0 && getint(FD_TCP_OPTIONS, SOL_SOCKET, SO_DONTROUTE) == 1
              && getint(FD_TCP_OPTIONS, SOL_SOCKET, SO_NO_CHECK) == 1 && getint(FD_TCP_OPTIONS, SOL_SOCKET, SO_BUF_LOCK) == SOCK_SNDBUF_LOCK,
          "TCP socket options: device '%s', SO_DONTROUTE %d, SO_NO_CHECK %d, SO_BUF_LOCK %d (were lo, 1, 1, 1)", device,
          getint(FD_TCP_OPTIONS, SOL_SOCKET, SO_DONTROUTE), getint(FD_TCP_OPTIONS, SOL_SOCKET, SO_NO_CHECK),
          getint(FD_TCP_OPTIONS, SOL_SOCKET, SO_BUF_LOCK));
    CHECK(getint(FD_UNIX_PASSSEC, SOL_SOCKET, SO_PASSSEC) == 1, "Unix socket lost SO_PASSSEC");
    for (int fd = FD_UDP_FOREIGN; fd <= FD_TCP_FOREIGN; fd++) {
        struct sockaddr_in at = {0};
        socklen_t alen = sizeof at;
        getsockname(fd, (struct sockaddr *)&at, &alen);
        CHECK(memcmp(&at, &foreign, sizeof at) == 0 && getint(fd, IPPROTO_IP, IP_FREEBIND) == 0,
              "fd %d bound with IP_FREEBIND: address %s:%d, IP_FREEBIND %d (were 192.0.2.77:40999, 0)", fd, inet_ntoa(at.sin_addr),
              ntohs(at.sin_port), getint(fd, IPPROTO_IP, IP_FREEBIND));
    }
    struct sigaction trap;
    CHECK(sigaction(SIGTRAP, NULL, &trap) == 0 && trap.sa_handler == SIG_IGN, "SIGTRAP is no longer ignored");
    return h_finish();
}
