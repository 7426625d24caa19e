#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <arpa/inet.h>
#include <sys/socket.h>
static int lsn(int reuse) { int l = socket(AF_INET, SOCK_STREAM, 0); setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7100)}; if (bind(l, (void*)&a, sizeof a)) { printf("bind(reuse=%d): %s\n", reuse, strerror(errno)); close(l); return -1; } listen(l, 4); return l; }
int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int l = lsn(1); int c = accept(l, NULL, NULL); char b[8];
  close(c); /* we close first: TIME-WAIT on our side */
  close(l); usleep(300000);
  int l2 = lsn(0); printf("rebind without SO_REUSEADDR: %s\n", l2 < 0 ? "refused (EADDRINUSE expected above)" : "accepted");
  if (l2 >= 0) close(l2);
  l2 = lsn(1); printf("rebind with SO_REUSEADDR: %s\n", l2 >= 0 ? "ok" : "failed");
  c = accept(l2, NULL, NULL);
  struct linger lg = {1, 0}; setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(c); printf("closed with SO_LINGER 0\n"); (void)b;
  sleep(1); return 0;
}
