/*
 * user_namespace: a nobody-owned program in a user namespace of its own, where it is root with every
 * capability (what `unshare -U -r` gives an unprivileged user). Started as root, it becomes nobody,
 * unshares its user namespace, maps root there to nobody outside, drops CAP_SYS_RESOURCE (this
 * host's own bounding set may lack it) and clears its inheritable set. After go it
 * must still be in that same namespace, root there, and hold no privilege outside it: /etc/shadow
 * (root's, 0640 or tighter) stays closed to it. pmig refuses it, so the original passes; a copy
 * restored outside its namespace would read /etc/shadow and fail.
 */
#include "harness.h"

#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#define NOBODY 65534

static char namespace_before[64];
static char uid_map_before[256];

static void read_link(const char *path, char *out, size_t size)
{
    ssize_t n = readlink(path, out, size - 1);
    out[n < 0 ? 0 : n] = 0;
}

/* Writes content to an existing file such as /proc/self/uid_map; 0 or -1 with errno. */
static int write_proc(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = h_write_all(fd, content, strlen(content));
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int main(int argc, char **argv)
{
    h_init(argc, argv);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s/..", h_dir);
    SETUP(chmod(h_dir, 0777) == 0 && chmod(parent, 0711) == 0, "chmod: %s", strerror(errno));
    SETUP(setgroups(0, NULL) == 0 && setresgid(NOBODY, NOBODY, NOBODY) == 0 && setresuid(NOBODY, NOBODY, NOBODY) == 0,
          "becoming nobody: %s", strerror(errno));
    /* changing uids left it non-dumpable, its /proc files root's: as after an exec, they become its own */
    SETUP(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0, "PR_SET_DUMPABLE: %s", strerror(errno));
    SETUP(unshare(CLONE_NEWUSER) == 0, "unshare(CLONE_NEWUSER): %s", strerror(errno));
    SETUP(write_proc("/proc/self/setgroups", "deny") == 0, "setgroups deny: %s", strerror(errno));
    SETUP(write_proc("/proc/self/uid_map", "0 65534 1") == 0, "uid_map: %s", strerror(errno));
    SETUP(write_proc("/proc/self/gid_map", "0 65534 1") == 0, "gid_map: %s", strerror(errno));
    SETUP(setresgid(0, 0, 0) == 0 && setresuid(0, 0, 0) == 0, "root in the namespace: %s", strerror(errno));
    SETUP(prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0) == 0, "PR_CAPBSET_DROP: %s", strerror(errno));
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    SETUP(syscall(SYS_capget, &header, data) == 0, "capget: %s", strerror(errno));
    data[0].inheritable = data[1].inheritable = 0;
    data[0].permitted &= ~(1u << CAP_SYS_RESOURCE);
    data[0].effective &= ~(1u << CAP_SYS_RESOURCE);
    SETUP(syscall(SYS_capset, &header, data) == 0, "capset: %s", strerror(errno));
    read_link("/proc/self/ns/user", namespace_before, sizeof namespace_before);
    SETUP(h_read_file("/proc/self/uid_map", uid_map_before, sizeof uid_map_before - 1) > 0, "uid_map: %s", strerror(errno));

    h_ready();
    h_wait_go();

    char namespace_now[64], uid_map_now[256] = {0};
    read_link("/proc/self/ns/user", namespace_now, sizeof namespace_now);
    CHECK(!strcmp(namespace_now, namespace_before), "user namespace %s, not %s", namespace_now, namespace_before);
    h_read_file("/proc/self/uid_map", uid_map_now, sizeof uid_map_now - 1);
    CHECK(!strcmp(uid_map_now, uid_map_before), "uid_map %s, not %s", uid_map_now, uid_map_before);
    CHECK(getuid() == 0, "uid %d in the namespace, not 0", (int)getuid());
    int fd = open("/etc/shadow", O_RDONLY);
    CHECK(fd < 0, "/etc/shadow opened: the process holds privilege outside its user namespace");
    if (fd >= 0) {
        close(fd);
    }
    return h_finish();
}
