/**
 * Holding a VIP's inbound packets while it moves: an nftables drop rule switched per address
 * over netlink, and a capture that keeps what the rule drops, within limits.
 */
package io.pmig.vip.hold;
