package io.pmig.daemon.control;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Answers one op of the control socket. Runs on the daemon's handler threads. Returns the result
 * object; ControlRefusedException answers "refused" (nothing touched), any other exception "failed".
 */
@FunctionalInterface
public interface ControlHandler {
    ObjectNode handle(ControlCall call) throws Exception;
}
