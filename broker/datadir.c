/* datadir.c -- the broker's data directory: creation, the one-broker lock, damaged files moved aside, boot id. */
#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int
hb_datadir_prepare (const char *dir, char *why, size_t why_len)
{
    struct stat st;
    if (stat (dir, &st) == 0) {
        if (!S_ISDIR (st.st_mode)) {
            snprintf (why, why_len, "%s exists and is not a directory", dir);
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT || mkdir (dir, 0700) != 0) {
        snprintf (why, why_len, "cannot create %s: %s", dir, strerror (errno));
        return -1;
    }
    return 0;
}

int
hb_datadir_lock (const char *dir, char *why, size_t why_len)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/herald.lock", dir);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (why, why_len, "cannot open %s: %s", path, strerror (errno));
        return -1;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            snprintf (why, why_len, "%s is in use by another herald-broker (%s is locked)", dir, path);
        else
            snprintf (why, why_len, "cannot lock %s: %s", path, strerror (errno));
        close (fd);
        return -1;
    }
    return fd;
}

int
hb_datadir_move_aside (const char *dir, char *moved, size_t moved_len, char *why, size_t why_len)
{
    char from[4096], lock[4096], stamp[32];
    time_t t = time (NULL);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf (from, sizeof from, "%s/data.mdb", dir);
    /* Two damaged stores within a second keep both: a counter in the name. */
    for (int i = 0; i < 100; i++) {
        if (i == 0)
            snprintf (moved, moved_len, "%s/data.mdb.damaged-%s", dir, stamp);
        else
            snprintf (moved, moved_len, "%s/data.mdb.damaged-%s.%d", dir, stamp, i);
        if (access (moved, F_OK) == 0)
            continue;
        if (rename (from, moved) != 0) {
            snprintf (why, why_len, "cannot rename %s to %s: %s", from, moved, strerror (errno));
            return -1;
        }
        snprintf (lock, sizeof lock, "%s/lock.mdb", dir);
        unlink (lock);
        return 0;
    }
    snprintf (why, why_len, "too many damaged stores in %s", dir);
    return -1;
}

long long
hb_datadir_data_size (const char *dir)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/data.mdb", dir);
    struct stat st;
    return stat (path, &st) == 0 ? (long long) st.st_size : -1;
}

void
hb_datadir_boot_id (char *out, size_t out_len)
{
    out[0] = '\0';
    FILE *f = fopen ("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return;
    if (fgets (out, (int) out_len, f))
        out[strcspn (out, "\n")] = '\0';
    else
        out[0] = '\0';
    fclose (f);
}
