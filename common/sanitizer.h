/* LeakSanitizer for processes that end with _exit(), which skips the check it runs at exit:
 * the forked connection monitor and sandboxd -i. A no-op unless built with AddressSanitizer
 * (./configure --enable-sanitizers). */
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_ADDRESS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_ADDRESS 1
#endif
#endif

#ifdef SANITIZER_ADDRESS
#include <sanitizer/lsan_interface.h>

/* The leak check of a normal exit, run now: what is still reachable (from globals and from the
 * caller's stack) is not a leak. Reports and, on leaks, ends the process with the sanitizer's
 * exit code; it runs once, so a later exit() does not report the same memory again. */
static inline void sanitizer_leak_check(void)
{
	__lsan_do_leak_check();
}
#else
static inline void sanitizer_leak_check(void) {}
#endif
