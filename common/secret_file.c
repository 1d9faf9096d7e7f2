/* Atomic, exclusive writes of secret-holding files (see secret_file.h). */
#include "secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

#define TMP_ATTEMPTS 16

/* The directory part of path in dir ("." when it has none). -1 if too long. */
static int dir_of(const char *path, char *dir, size_t dirsz)
{
    const char *slash = strrchr(path, '/');
    int n = !slash ? snprintf(dir, dirsz, ".")
            : slash == path ? snprintf(dir, dirsz, "/")
                            : snprintf(dir, dirsz, "%.*s", (int)(slash - path), path);
    return n < 0 || (size_t)n >= dirsz ? -1 : 0;
}

/* Creates a fresh temporary file next to path: O_EXCL|O_NOFOLLOW so it is
 * always a new file of ours, a random name so nobody can plant one ahead
 * of us (and, should one exist anyway, another name is drawn). */
static int open_tmp(const char *path, char *tmp, size_t tmpsz)
{
    for (int i = 0; i < TMP_ATTEMPTS; i++) {
        char rnd[17];
        if (gw_random_hex(8, rnd, sizeof(rnd)) < 0) {
            errno = EIO;
            return -1;
        }
        int n = snprintf(tmp, tmpsz, "%s.tmp.%s", path, rnd);
        if (n < 0 || (size_t)n >= tmpsz) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

static int write_all(int fd, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Makes the rename durable: the directory entry is on disk too. */
static int sync_dir(const char *path)
{
    char dir[PATH_MAX];
    if (dir_of(path, dir, sizeof(dir)) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int gw_secret_file_write(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    int fd = open_tmp(path, tmp, sizeof(tmp));
    if (fd < 0)
        return -1;
    /* The mode was 0600 at creation; fchmod only undoes an odd umask that
     * took bits away (0600 & ~umask never adds any). */
    if (fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0)
        goto fail;
    int rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(tmp, path) != 0)
        goto fail;
    return sync_dir(path);
fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = e;
    return -1;
}
