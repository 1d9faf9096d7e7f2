/* The config revision and the data planes following it (see api_system.h). */
#include "api_system.h"

#include "crud.h"
#include "db.h"
#include "dp_channel.h"

int cp_h_revision(struct cp_req *req, struct gw_err *err)
{
    return cp_req_reply_json(
        req, 200, json_pack("{s:I}", "revision", (json_int_t)cp_db_revision(req->db)), err);
}

int cp_h_dataplanes(struct cp_req *req, struct gw_err *err)
{
    return cp_req_reply_json(req, 200, cp_items(cp_dp_list(req->dp)), err);
}
