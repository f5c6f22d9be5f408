package io.pmig.vip;

/** A VIP operation was refused or failed; the message names the interface and the address (or what else is wrong). */
public final class VipException extends RuntimeException {
    public VipException(String message) {
        super(message);
    }
}
