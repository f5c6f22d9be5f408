/*
 * unsupported_capabilities: drops CAP_NET_RAW from its capability bounding set. A checkpoint must be
 * refused naming the "capability" set (a copy would get the full set back) without disturbing the
 * process; after go the capability is still out of its bounding set.
 */
#include "harness.h"

#include <linux/capability.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
    h_init(argc, argv);
    SETUP(prctl(PR_CAPBSET_DROP, CAP_NET_RAW, 0, 0, 0) == 0, "PR_CAPBSET_DROP: %s", strerror(errno));

    h_ready();
    h_wait_go();

    CHECK(prctl(PR_CAPBSET_READ, CAP_NET_RAW, 0, 0, 0) == 0, "CAP_NET_RAW is back in the bounding set");
    return h_finish();
}
