package io.pmig.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.daemon.control.ControlCall;
import io.pmig.daemon.control.ControlHandler;
import io.pmig.daemon.control.ControlRefusedException;
import io.pmig.daemon.control.MigrationPolicy;

/**
 * The "may-migrate" op, {"op": "may-migrate", "pid": N}: whether the caller (SO_PEERCRED) may
 * migrate process N from this node. Answers the caller's identity and the decision; refuses with
 * the reason when the answer is no. It is the first pre-flight step of a migration.
 */
final class MayMigrate implements ControlHandler {
    static final String OP = "may-migrate";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final MigrationPolicy policy;

    MayMigrate(MigrationPolicy policy) {
        this.policy = policy;
    }

    @Override
    public ObjectNode handle(ControlCall call) {
        if (!call.request().path("pid").canConvertToLong()) {
            throw new ControlRefusedException("may-migrate needs a numeric \"pid\"");
        }
        long pid = call.request().path("pid").asLong();
        MigrationPolicy.Decision decision = policy.mayMigrate(call.caller(), pid);
        if (!decision.allowed()) {
            throw new ControlRefusedException(decision.reason());
        }
        ObjectNode result = MAPPER.createObjectNode();
        result.put("pid", pid);
        result.put("callerUid", call.caller().uid());
        result.put("callerPid", call.caller().pid());
        result.put("allowed", true);
        result.put("reason", decision.reason());
        return result;
    }
}
