/**
 * The VIP manager's thin native layer over jnr-ffi: one binding of glibc's syscall(), typed
 * wrappers on top, every constant and struct layout named with the kernel header it mirrors.
 * Nothing outside this package sees a raw pointer or errno.
 */
package io.pmig.vip.nativeio;
