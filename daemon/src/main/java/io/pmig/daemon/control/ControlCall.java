package io.pmig.daemon.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.function.Consumer;

/**
 * One request on the control socket: who sent it, what it asks ({"op": ..., ...}), and a way to
 * send progress lines ahead of the answer (a migration's progress bar).
 */
public final class ControlCall {
    private final Caller caller;
    private final JsonNode request;
    private final Consumer<ObjectNode> progress;

    ControlCall(Caller caller, JsonNode request, Consumer<ObjectNode> progress) {
        this.caller = caller;
        this.request = request;
        this.progress = progress;
    }

    public Caller caller() {
        return caller;
    }

    public JsonNode request() {
        return request;
    }

    /** Sends {"progress": update} to the caller now. */
    public void progress(ObjectNode update) {
        progress.accept(update);
    }
}
