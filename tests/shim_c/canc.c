#include <stdio.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
static int fd;
static void *t(void *a) { char b[4]; (void)a; long r = recv(fd, b, 4, 0); printf("recv returned %ld\n", r); return NULL; }
int main(void) {
  fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9000)}; inet_pton(AF_INET, "198.18.0.1", &a.sin_addr);
  if (connect(fd, (void*)&a, sizeof a)) { perror("connect"); return 1; }
  pthread_t th; pthread_create(&th, NULL, t, NULL); usleep(100000);
  pthread_cancel(th); void *res; pthread_join(th, &res);
  printf("joined, cancelled=%d\n", res == PTHREAD_CANCELED); return 0;
}
