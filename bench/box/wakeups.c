/*
 * What a system call and a wake-up cost on this machine (docs/performance.md, issue 21, eighth
 * session): the shop's processes talk over loopback, so each hop pays both many times per order.
 *   cc -O2 -o /tmp/wakeups bench/box/wakeups.c && /tmp/wakeups
 */
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double since_us(struct timespec start, long n) {
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  return ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / n / 1000.0;
}

int main(void) {
  struct timespec start;
  const long calls = 1000000, trips = 50000;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < calls; i++) syscall(SYS_getppid);
  printf("{\"syscallUs\": %.3f, ", since_us(start, calls));

  /* One byte there and back between two processes: two wake-ups and four system calls. */
  int there[2], back[2];
  char byte = 'x';
  if (pipe(there) || pipe(back)) return 1;
  if (fork() == 0) {
    for (long i = 0; i < trips; i++) {
      if (read(there[0], &byte, 1) != 1 || write(back[1], &byte, 1) != 1) _exit(1);
    }
    _exit(0);
  }
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < trips; i++) {
    if (write(there[1], &byte, 1) != 1 || read(back[0], &byte, 1) != 1) return 1;
  }
  printf("\"pipeRoundTripUs\": %.3f}\n", since_us(start, trips));
  return 0;
}
