/* Static file serving for the web UI (see static.h). */
#include "static.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "routes.h"

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

const char *cp_static_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static enum MHD_Result refuse(struct MHD_Connection *c, enum gw_err_kind kind, const char *msg)
{
    struct gw_err err;
    gw_err_set(&err, kind, kind == GW_ERR_NOT_FOUND ? "not_found" : "bad_path", NULL, "%s", msg);
    return cp_http_reply_error(c, &err);
}

/* Decodes rel segment by segment into out ("a/b/c"). Returns 0, -1 for a
 * malformed path (400), -2 for a refused one (404). */
static int safe_path(const char *rel, char *out, size_t outsz)
{
    size_t o = 0;
    const char *p = rel;
    out[0] = '\0';
    while (*p) {
        size_t n = strcspn(p, "/");
        char seg[NAME_MAX + 1];
        long len = n ? cp_url_decode(p, n, seg, sizeof(seg)) : 0;
        if (len < 0)
            return -1;
        if (len > 0) {
            if (seg[0] == '.' || strchr(seg, '/') || strchr(seg, '\\'))
                return -2;
            if (o + (size_t)len + 2 >= outsz)
                return -1;
            if (o)
                out[o++] = '/';
            memcpy(out + o, seg, (size_t)len);
            o += (size_t)len;
            out[o] = '\0';
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return 0;
}

enum MHD_Result cp_static_serve(struct MHD_Connection *c, const char *web_dir, const char *rel,
                                const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return refuse(c, GW_ERR_METHOD, "only GET and HEAD are allowed here");
    char relpath[PATH_MAX], full[PATH_MAX * 2], real[PATH_MAX], root[PATH_MAX];
    int rc = safe_path(rel, relpath, sizeof(relpath));
    if (rc == -1)
        return refuse(c, GW_ERR_INVALID, "malformed path");
    if (rc == -2)
        return refuse(c, GW_ERR_NOT_FOUND, "no such file");
    size_t rl = strlen(rel);
    int is_dir_req = rl == 0 || rel[rl - 1] == '/';
    snprintf(full, sizeof(full), "%s/%s%s%s", web_dir, relpath, *relpath && is_dir_req ? "/" : "",
             is_dir_req ? "index.html" : "");
    if (!realpath(web_dir, root) || !realpath(full, real) ||
        strncmp(real, root, strlen(root)) != 0 || real[strlen(root)] != '/')
        return refuse(c, GW_ERR_NOT_FOUND, "no such file");
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return refuse(c, GW_ERR_NOT_FOUND, "no such file");
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return refuse(c, GW_ERR_NOT_FOUND, "no such file");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    const char *type = cp_static_type(real);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
                            strncmp(type, "text/html", 9) == 0 ? "no-cache"
                                                               : "public, max-age=300");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}
