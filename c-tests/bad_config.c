/*
 * bad_config
 *
 * Calls socket(AF_INET, SOCK_STREAM, 0), expected to fail because the
 * environment holds a bad TAPSTACK_* value. Prints "errno=NAME" (or
 * "socket succeeded") and always exits 0, to show the library did not kill
 * the program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        printf("errno=%s\n", strerrorname_np(errno));
    } else {
        printf("socket succeeded\n");
        close(fd);
    }
    return 0;
}
