package io.pmig.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/** The exit codes of every {@code pmig} command; {@code pmig --help} and README.md list them. */
public final class ExitCodes {
    public static final int OK = 0;
    /** Something was changed before the command failed; the message says what state was left. */
    public static final int FAILED = 1;
    public static final int USAGE = 2;
    /** Refused before anything was touched: the process runs on unchanged, nothing was created. */
    public static final int REFUSED = 3;
    /** pmig drain: some services could not move and run on where they were (each is named with its reason). */
    public static final int NOT_EMPTY = 4;
    /** pmig service status: the service is not on this node (it may run on another). */
    public static final int NOT_HERE = 5;
    /** pmig service status: the service is registered on this node, and its process is gone. */
    public static final int GONE = 6;

    private ExitCodes() {
    }

    /** Code to description, in the order the help shows them. */
    public static Map<String, String> descriptions() {
        Map<String, String> list = new LinkedHashMap<>();
        list.put(Integer.toString(OK), "success");
        list.put(Integer.toString(FAILED), "failed after something was changed; the message says what state was left");
        list.put(Integer.toString(USAGE), "usage error");
        list.put(Integer.toString(REFUSED), "refused before anything was touched");
        list.put(Integer.toString(NOT_EMPTY), "pmig drain: the node is not empty, a service could not move (each is named)");
        list.put(Integer.toString(NOT_HERE), "pmig service status: the service is not on this node");
        list.put(Integer.toString(GONE), "pmig service status: the service is registered on this node and its process is gone");
        return list;
    }
}
