/* fdlimit.c -- the descriptor limit both programs raise at start. */
#include "fdlimit.h"

#include <sys/resource.h>

unsigned long
hp_fd_limit_raise (void)
{
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = { rl.rlim_max, rl.rlim_max };
        if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    return (unsigned long) rl.rlim_cur;
}
