/**
 * Holding a VIP's inbound packets while it moves, within limits: in the kernel with pmig.ko
 * ({@link io.pmig.vip.hold.KernelHold}), else an nftables drop rule switched per address over
 * netlink and a capture that keeps what the rule drops ({@link io.pmig.vip.hold.CapturedHold}).
 */
package io.pmig.vip.hold;
