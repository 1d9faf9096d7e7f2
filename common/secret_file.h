/* Writing files that hold secrets (the data plane's cache of the snapshot,
 * with every vendor key): atomically, never through someone else's file.
 *
 * gw_secret_file_write() creates a new temporary file in the target's own
 * directory with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 from the start (so
 * a planted symlink or an existing file at the temporary name receives
 * nothing: the name is random and taken afresh when it exists), writes and
 * fsyncs it, renames it over the target and fsyncs the directory, so after a
 * crash the target is the old or the new document, whole. Any thread. */
#ifndef GW_SECRET_FILE_H
#define GW_SECRET_FILE_H

#include <stddef.h>

/* Replaces path with the len bytes of data (mode 0600). Returns 0, or -1
 * with errno set: before the rename the target is unchanged and no
 * temporary file is left behind; when only the final fsync of the
 * directory failed, the new content is in place but may not survive a
 * power cut. */
int gw_secret_file_write(const char *path, const void *data, size_t len);

#endif
