/** Interface addresses over rtnetlink (NETLINK_ROUTE via jnr-ffi, no `ip` processes) and the VIP rules on top. */
package io.pmig.vip.netlink;
