/** Byte-level work on IP packets: checksums. */
package io.pmig.vip.packet;
