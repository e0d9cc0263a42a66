/* bench-clock: the payload of the jail benchmark (tests/bench/jail_bench.sh). Its first act is
 * to read CLOCK_MONOTONIC, which is the same clock inside and outside a jail (no time
 * namespace), and to print it in microseconds: "clock N". Statically linked, so that nothing
 * runs between execve and main but the C library's start-up, the same for every jail. Any
 * arguments are ignored (the daemon runs it as the runner: "-- WORDS..."). */
#include <stdio.h>
#include <time.h>

int main(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("clock %llu\n",
	       (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	return 0;
}
