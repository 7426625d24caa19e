#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sendfile.h>
#include <arpa/inet.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int f = open(argv[1], O_RDONLY); struct stat st; fstat(f, &st);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))}; inet_pton(AF_INET, "198.18.0.1", &a.sin_addr);
    if (connect(s, (void*)&a, sizeof a)) { perror("connect"); return 1; }
    /* first 1000 bytes with an explicit offset, the rest from the file position */
    off_t off = 0; ssize_t n = sendfile(s, f, &off, 1000);
    if (n != 1000 || off != 1000 || lseek(f, 0, SEEK_CUR) != 0) { printf("offset semantics wrong: n=%zd off=%ld pos=%ld\n", n, (long)off, (long)lseek(f,0,SEEK_CUR)); return 1; }
    lseek(f, 1000, SEEK_SET);
    long total = 1000;
    while (total < st.st_size) { n = sendfile(s, f, NULL, st.st_size - total); if (n <= 0) { perror("sendfile"); return 1; } total += n; }
    printf("sent %ld, file pos %ld\n", total, (long)lseek(f, 0, SEEK_CUR));
    close(s); return 0;
}
