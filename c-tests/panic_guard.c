/*
 * panic_guard
 *
 * Calls tapstack_debug_panic() twice (run with TAPSTACK_TEST_HOOKS=1): each
 * call must return -1 with errno EIO and the program must carry on. Then,
 * with the variable unset, the hook is off: -1 with errno ENOSYS. Prints OK
 * and exits 0 when all holds, else says what did not and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "tapstack.h"

static int check(const char *what, int ret, int err, int want_errno)
{
    if (ret != -1 || err != want_errno) {
        printf("%s: got %d errno=%d (%s), want -1 errno=%d\n", what, ret, err,
               strerror(err), want_errno);
        return 1;
    }
    return 0;
}

int main(void)
{
    int bad = 0;
    printf("tapstack %s\n", tapstack_version());

    for (int i = 0; i < 2; i++) {
        errno = 0;
        int ret = tapstack_debug_panic();
        bad |= check("tapstack_debug_panic", ret, errno, EIO);
    }

    unsetenv("TAPSTACK_TEST_HOOKS");
    errno = 0;
    int ret = tapstack_debug_panic();
    bad |= check("tapstack_debug_panic without hooks", ret, errno, ENOSYS);

    if (bad)
        return 1;
    printf("OK\n");
    return 0;
}
