/* Static files of the web UI, served from the --web directory at /ui/.
 *
 * Refuses anything that could leave the directory: "." and ".." segments
 * (also percent-encoded), hidden files, encoded slashes or NULs, and
 * symlinks that resolve outside it. Any MHD worker thread; no state. */
#ifndef CP_STATIC_H
#define CP_STATIC_H

#include <microhttpd.h>

/* Serves rel (the raw URL path after "/ui/", still percent-encoded) from
 * web_dir: 200 with the file, 404 when absent or refused, 400 for a
 * malformed path, 405 for methods other than GET/HEAD. */
enum MHD_Result cp_static_serve(struct MHD_Connection *c, const char *web_dir, const char *rel,
                                const char *method);

/* The Content-Type for a file name, by extension ("application/octet-stream"
 * when unknown). */
const char *cp_static_type(const char *name);

#endif
