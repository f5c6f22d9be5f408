package io.pmig.checkpoint.it;

import java.nio.file.Files;

/**
 * The checkpoint module's TcpGoLiveTest check that a checkpoint and restore of live connections arrives
 * working, called as a plain method in a guest with pmig.ko loaded (io.pmig.testvm.it.PmigModuleGuest),
 * so that the engine reads the connections' state through the module. It lives in the tests' package to
 * reach them; JUnit's part (a temporary directory, the test's own network namespace) is done here.
 */
public final class TcpRepairWithModule {
    private TcpRepairWithModule() {
    }

    public static void aCheckpointAndRestoreOfLiveConnectionsArrivesWorking() throws Exception {
        TcpGoLiveTest test = new TcpGoLiveTest();
        test.tmp = Files.createTempDirectory("pmig-guest-tcp");
        try {
            test.enterOwnNetworkNamespace();
            try {
                test.theHookRunsOnceWhileEveryConnectionIsStillInRepair();
            } finally {
                test.leaveAndRemoveNamespace();
            }
        } finally {
            SoftDirtyGuest.deleteTree(test.tmp);
        }
    }
}
