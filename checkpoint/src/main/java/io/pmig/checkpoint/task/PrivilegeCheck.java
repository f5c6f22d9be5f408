package io.pmig.checkpoint.task;

import io.pmig.checkpoint.RefusedException;
import io.pmig.checkpoint.proc.ProcFs;

import java.util.Map;

/**
 * The restore gives every thread of a process the process's user and group ids and its no_new_privs,
 * and nothing else of its privileges: the capabilities it ends with are those setresuid leaves from the
 * restorer's own (all of them for uid 0, none otherwise), with the restorer's bounding set, no ambient
 * ones, no seccomp.
 * A process whose threads hold anything else is refused, naming it: a copy that silently had more
 * privileges (a root service with a reduced bounding set) or fewer (a service given
 * CAP_NET_BIND_SERVICE as an ambient capability) than its original would be a different service.
 */
public final class PrivilegeCheck {
    private PrivilegeCheck() {
    }

    /** Refuses process {@code pid} unless every thread's privileges are what the restore recreates. */
    public static void requireRestorable(int pid) {
        Map<String, String> own = ProcFs.keyValues(new ProcFs((int) ProcessHandle.current().pid()).read("status"));
        Map<String, String> main = new ProcFs(pid).status();
        for (int tid : new ProcFs(pid).tasks()) {
            Map<String, String> status = new ProcFs(tid).status();
            String who = "thread " + tid + " of process " + pid;
            for (String ids : new String[] {"Uid", "Gid", "Groups", "NoNewPrivs"}) {
                // the image keeps the process's credentials, and the restore gives them to every thread
                if (!status.getOrDefault(ids, "").equals(main.getOrDefault(ids, ""))) {
                    throw new RefusedException(who + " has other credentials than the process (" + ids + ": "
                        + status.getOrDefault(ids, "") + ", not " + main.getOrDefault(ids, "") + "), which pmig cannot restore yet");
                }
            }
            String seccomp = status.getOrDefault("Seccomp", "0");
            if (!seccomp.equals("0")) {
                throw new RefusedException(who + " runs under seccomp (mode " + seccomp + "), whose filters pmig cannot restore"
                    + " yet; stop it and start it on the other node instead");
            }
            // setresuid away from uid 0 clears the permitted set once no id is 0, the effective set once the effective id is not
            String[] uids = status.get("Uid").split("\\s+");
            boolean keepsPermitted = uids[0].equals("0") || uids[1].equals("0") || uids[2].equals("0");
            boolean keepsEffective = uids[1].equals("0");
            String all = own.get("CapBnd");
            String none = "0000000000000000";
            requireCapabilities(who, "bounding", status.get("CapBnd"), all);
            requireCapabilities(who, "ambient", status.get("CapAmb"), none);
            requireCapabilities(who, "inheritable", status.get("CapInh"), none);
            requireCapabilities(who, "permitted", status.get("CapPrm"), keepsPermitted ? all : none);
            requireCapabilities(who, "effective", status.get("CapEff"), keepsEffective ? all : none);
        }
    }

    private static void requireCapabilities(String who, String set, String has, String restored) {
        if (!has.equals(restored)) {
            throw new RefusedException(who + " has the " + set + " capability set " + has + "; a restored copy would have "
                + restored + " (pmig does not restore capabilities yet); stop it and start it on the other node instead");
        }
    }
}
