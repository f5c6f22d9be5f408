package io.pmig.cli.lab;

import io.pmig.vip.nativeio.Namespaces;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * One thread of this JVM inside a lab host's network namespace: what it opens (sockets, the VIP
 * manager, the replay device, the nft process it starts) belongs to that host. For tests that
 * play a node's daemon or a client in-process.
 */
final class InNamespace implements AutoCloseable {
    private final ExecutorService thread;
    private final String host;

    InNamespace(String host) {
        this.host = host;
        String netns = new LabLayout(LabTestSupport.LAB).netns(host);
        this.thread = Executors.newSingleThreadExecutor(r -> new Thread(() -> {
            Namespaces.enterNetwork(LabLayout.netnsFile(netns).toString());
            r.run();
        }, "in " + netns));
    }

    /** Runs {@code body} on this host's thread and waits for it. */
    <T> T call(Callable<T> body) throws Exception {
        return join(submit(body));
    }

    /** Starts {@code body} on this host's thread. */
    <T> Future<T> submit(Callable<T> body) {
        return thread.submit(body);
    }

    static <T> T join(Future<T> f) throws Exception {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    String host() {
        return host;
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
