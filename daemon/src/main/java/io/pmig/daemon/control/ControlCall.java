package io.pmig.daemon.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * One request on the control socket: who sent it, what it asks ({"op": ..., ...}), a way to
 * send progress lines ahead of the answer (a migration's progress bar), and whether the caller
 * is still there to read it.
 */
public final class ControlCall {
    private final Caller caller;
    private final JsonNode request;
    private final Consumer<ObjectNode> progress;
    private final CompletionStage<Void> disconnected;

    ControlCall(Caller caller, JsonNode request, Consumer<ObjectNode> progress, CompletionStage<Void> disconnected) {
        this.caller = caller;
        this.request = request;
        this.progress = progress;
        this.disconnected = disconnected;
    }

    /** Completes when the caller closed its connection (pmig ended by Ctrl-C, say) or the daemon closed it. */
    public CompletionStage<Void> disconnected() {
        return disconnected;
    }

    public Caller caller() {
        return caller;
    }

    public JsonNode request() {
        return request;
    }

    /**
     * A call the daemon makes on this caller's behalf, within this one (a drain's migrations): the same caller and
     * disconnection, another request, its progress to {@code progress}.
     */
    public ControlCall onBehalf(JsonNode otherRequest, Consumer<ObjectNode> otherProgress) {
        return new ControlCall(caller, otherRequest, otherProgress, disconnected);
    }

    /** Sends {"progress": update} to the caller now. */
    public void progress(ObjectNode update) {
        progress.accept(update);
    }
}
