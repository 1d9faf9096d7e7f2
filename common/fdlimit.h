/* The process's file-descriptor limit, which caps how many connections a
 * listener can hold: both binaries raise it at start, and size their
 * connection limits from it so that a flood of idle connections meets the
 * server's own limit (refused at once) rather than the kernel's EMFILE
 * (which leaves clients hanging in the accept queue). Main thread, at
 * start. */
#ifndef GW_FDLIMIT_H
#define GW_FDLIMIT_H

/* Raises RLIMIT_NOFILE's soft limit to the hard limit. Returns the soft
 * limit now in force. */
unsigned long gw_fd_limit_raise(void);

/* A connection limit for a listener: the fd limit less spare descriptors
 * the process needs for everything else, at most max and at least min. */
unsigned gw_conn_limit(unsigned long spare, unsigned min, unsigned max);

#endif
