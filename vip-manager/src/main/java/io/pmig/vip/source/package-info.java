/**
 * The VIP as a service's source address (issue 15): cgroup BPF programs that bind the sockets of a
 * cgroup's processes to the VIP, so that their outbound connections and UDP are the service's and
 * move with it.
 */
package io.pmig.vip.source;
