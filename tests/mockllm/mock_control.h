/* The mock's control API under /__mock/ (documented in README.md):
 * health, stats, the request log, and the fault rules. Runs on MHD worker
 * threads; everything it touches is guarded by its own lock or atomic. */
#ifndef MOCK_CONTROL_H
#define MOCK_CONTROL_H

#include "mock_server.h"

/* Answers a fully received /__mock/... request. */
enum MHD_Result mock_control_handle(struct mock_req *req, const char *url, const char *method);

#endif
