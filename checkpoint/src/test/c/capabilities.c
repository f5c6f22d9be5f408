/*
 * capabilities: a hardened service's privileges survive. Started as root, it drops CAP_NET_RAW from its
 * bounding set, becomes nobody keeping CAP_NET_BIND_SERVICE (permitted, effective, inheritable and
 * ambient), as a service given AmbientCapabilities= would, and starts a second thread. After go every
 * thread still has exactly the credentials and capability sets it had before, and the capability
 * works: a TCP socket binds to 127.0.0.1 port 1.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define NOBODY 65534

static char before[4096];

/* The Uid, Gid, Groups and Cap* lines of a thread's status. */
static void credentials(pid_t tid, char *out, size_t size)
{
    char path[64], status[8192];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    out[0] = 0;
    if (h_read_file(path, status, sizeof status - 1) < 0) {
        return;
    }
    for (char *line = strtok(status, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) || !strncmp(line, "Groups:", 7) || !strncmp(line, "Cap", 3)) {
            strncat(out, line, size - strlen(out) - 2);
            strcat(out, "\n");
        }
    }
}

static int capset_all(uint32_t effective, uint32_t permitted, uint32_t inheritable)
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{effective, permitted, inheritable}, {0, 0, 0}};
    return (int)syscall(SYS_capset, &header, data);
}

static volatile pid_t second_tid;
static volatile int checked;

static void *second(void *arg)
{
    (void)arg;
    second_tid = (pid_t)syscall(SYS_gettid);
    while (!checked) {
        h_sleep_ns(1000000LL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s/..", h_dir);
    SETUP(chmod(h_dir, 0777) == 0 && chmod(parent, 0711) == 0, "chmod: %s", strerror(errno));
    uint32_t bind_service = 1u << CAP_NET_BIND_SERVICE;
    SETUP(prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0) == 0, "PR_CAPBSET_DROP: %s", strerror(errno));
    SETUP(prctl(PR_SET_SECUREBITS, 1 << 4 /* SECBIT_KEEP_CAPS */, 0, 0, 0) == 0, "keep caps: %s", strerror(errno));
    SETUP(setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 && setresuid(NOBODY, NOBODY, NOBODY) == 0,
          "becoming nobody: %s", strerror(errno));
    SETUP(capset_all(bind_service, bind_service, bind_service) == 0, "capset: %s", strerror(errno));
    SETUP(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) == 0, "ambient: %s", strerror(errno));
    pthread_t t;
    SETUP(pthread_create(&t, NULL, second, NULL) == 0, "pthread_create");
    while (!second_tid) {
        h_sleep_ns(1000000LL);
    }
    credentials(getpid(), before, sizeof before);

    h_ready();
    h_wait_go();

    char now[4096];
    pid_t tids[2] = {getpid(), second_tid};
    for (int i = 0; i < 2; i++) {
        credentials(tids[i], now, sizeof now);
        CHECK(!strcmp(now, before), "thread %d has\n%s\nnot\n%s", (int)tids[i], now, before);
    }
    checked = 1;
    pthread_join(t, NULL);
    CHECK(prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) == 0, "CAP_NET_RAW is back in the bounding set");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(1), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0, "bind to port 1 (CAP_NET_BIND_SERVICE): %s", strerror(errno));
    close(s);
    return h_finish();
}
