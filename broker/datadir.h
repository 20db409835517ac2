/* datadir.h -- the broker's data directory: creation, the one-broker lock, damaged files moved aside, boot id. */
#ifndef HERALD_BROKER_DATADIR_H
#define HERALD_BROKER_DATADIR_H

#include <stddef.h>

/* Creates dir (one level, mode 0700) when missing. 0, or -1 with why filled. */
int hb_datadir_prepare (const char *dir, char *why, size_t why_len);

/* Takes an exclusive lock (flock) on dir/herald.lock, so a second broker on
 * the same directory is refused instead of corrupting it. Returns the lock's
 * file descriptor (held until closed), or -1 with why filled. */
int hb_datadir_lock (const char *dir, char *why, size_t why_len);

/* Renames dir/data.mdb to dir/data.mdb.damaged-<UTC time> and removes
 * dir/lock.mdb (LMDB rebuilds it). The new name is written to moved.
 * 0, or -1 with why filled. */
int hb_datadir_move_aside (const char *dir, char *moved, size_t moved_len,
                           char *why, size_t why_len);

/* The size of dir/data.mdb in bytes, or -1 when it does not exist. */
long long hb_datadir_data_size (const char *dir);

/* This boot's id (Linux /proc/sys/kernel/random/boot_id, 36 characters),
 * or "" when unknown. out holds at least 37 bytes. */
void hb_datadir_boot_id (char *out, size_t out_len);

#endif
