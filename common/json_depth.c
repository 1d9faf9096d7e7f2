/* JSON nesting depth scan (see json_depth.h). */
#include "json_depth.h"

int gw_json_depth_ok(const void *text, size_t len, int max)
{
    const unsigned char *s = text;
    int depth = 0, in_string = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped character cannot end the string */
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return 0;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}
