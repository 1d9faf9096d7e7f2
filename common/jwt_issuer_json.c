/* An issuer from its JSON parts (see jwt_issuer_json.h). Any thread. */
#include "common/jwt_issuer_json.h"

#include <stdio.h>
#include <string.h>

static int add_audiences(struct gw_jwt_issuer *is, const json_t *audiences, struct gw_err *err)
{
    size_t i;
    json_t *a;
    if (!audiences)
        return 0;
    if (!json_is_array(audiences))
        return gw_err_set(err, GW_ERR_INVALID, "invalid_type", "audiences",
                          "audiences must be an array of strings");
    json_array_foreach (audiences, i, a) {
        if (!json_is_string(a))
            return gw_err_set(err, GW_ERR_INVALID, "invalid_type", "audiences",
                              "audiences[%zu] must be a string", i);
        if (gw_jwt_issuer_add_audience(is, json_string_value(a), err) < 0)
            return -1;
    }
    return 0;
}

/* See jwt_issuer_json.h. */
void gw_jwt_err_name_field(struct gw_err *err, const char *prefix)
{
    char why[sizeof(err->message)], code[sizeof(err->code)], field[sizeof(err->field)];
    size_t n = strlen(err->field);
    if (err->kind == GW_ERR_NOMEM)
        return;
    snprintf(why, sizeof(why), "%s", err->message);
    snprintf(code, sizeof(code), "%s", err->code);
    snprintf(field, sizeof(field), "%s%s%s", prefix ? prefix : "", prefix && n ? "." : "",
             err->field);
    if (!field[0])
        return;
    if (n && strncmp(why, err->field, n) == 0)
        gw_err_set(err, err->kind, code, field, "%s%s%s", prefix ? prefix : "",
                   prefix ? "." : "", why);
    else
        gw_err_set(err, err->kind, code, field, "%s: %s", field, why);
}

struct gw_jwt_issuer *gw_jwt_issuer_from_json(const char *iss, const char *client_claim,
                                              const json_t *audiences, const json_t *keys,
                                              const json_t *jwks, struct gw_err *err)
{
    struct gw_jwt_issuer *is = gw_jwt_issuer_new(iss, client_claim, err);
    if (!is)
        return NULL;
    if (add_audiences(is, audiences, err) < 0)
        goto fail;
    if (keys && !json_is_array(keys)) {
        gw_err_set(err, GW_ERR_INVALID, "invalid_type", "keys",
                   "keys must be an array of PEM public keys or JWKs");
        goto fail;
    }
    if (keys && gw_jwt_issuer_add_keys_json(is, keys, err) < 0) {
        gw_jwt_err_name_field(err, NULL);
        goto fail;
    }
    if (jwks && gw_jwt_issuer_add_keys_json(is, jwks, err) < 0) {
        gw_jwt_err_name_field(err, "jwks");
        goto fail;
    }
    return is;
fail:
    gw_jwt_issuer_free(is);
    return NULL;
}
