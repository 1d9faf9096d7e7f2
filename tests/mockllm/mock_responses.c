/* The Responses API's object and stream events (see mock_responses.h). */
#include "mock_responses.h"

/* Sequence numbers: the head's four events, then the deltas, then the tail. */
#define HEAD_EVENTS 4

static int ok(enum gw_buf_result r)
{
    return r == GW_BUF_OK ? 0 : -1;
}

/* {"type":"output_text","annotations":[],"logprobs":[],"text":"<text>"} */
static int text_part(struct gw_buf *out, const char *text)
{
    if (gw_buf_append_str(out, "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],"
                               "\"text\":") != GW_BUF_OK ||
        mock_reply_json_str(out, text) < 0)
        return -1;
    return ok(gw_buf_append(out, "}", 1));
}

/* The assistant message: in progress and empty, or completed with the
 * whole text. */
static int message_item(struct gw_buf *out, const struct mock_reply *r, int completed)
{
    char text[MOCK_TEXT_MAX];
    if (gw_buf_printf(out, "{\"id\":\"msg_mock_%llu\",\"type\":\"message\",\"status\":\"%s\","
                           "\"content\":[",
                      r->id, completed ? "completed" : "in_progress") != GW_BUF_OK)
        return -1;
    mock_reply_answer(r, text);
    if (completed && text_part(out, text) < 0)
        return -1;
    return ok(gw_buf_append_str(out, "],\"role\":\"assistant\"}"));
}

static int usage_obj(struct gw_buf *out, const struct mock_reply *r)
{
    return ok(gw_buf_printf(out,
                            "{\"input_tokens\":%ld,\"input_tokens_details\":{\"cached_tokens\":0},"
                            "\"output_tokens\":%ld,\"output_tokens_details\":"
                            "{\"reasoning_tokens\":0},\"total_tokens\":%ld}",
                            r->prompt_tokens, r->completion_tokens,
                            r->prompt_tokens + r->completion_tokens));
}

/* The response object: in progress (no output, usage null) or completed. */
static int response_obj(struct gw_buf *out, const struct mock_reply *r, int completed)
{
    if (gw_buf_printf(out,
                      "{\"id\":\"resp_mock_%llu\",\"object\":\"response\",\"created_at\":%lld,"
                      "\"status\":\"%s\",\"background\":false,\"error\":null,"
                      "\"incomplete_details\":null,\"instructions\":null,"
                      "\"max_output_tokens\":null,",
                      r->id, r->created, completed ? "completed" : "in_progress") != GW_BUF_OK ||
        mock_reply_model_field(out, r) < 0 || gw_buf_append_str(out, ",\"output\":[") != GW_BUF_OK ||
        (completed && message_item(out, r, 1) < 0) ||
        gw_buf_append_str(out, "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
                               "\"reasoning\":{\"effort\":null,\"summary\":null},"
                               "\"service_tier\":\"default\",\"store\":true,\"temperature\":1.0,"
                               "\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\","
                               "\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\","
                               "\"usage\":") != GW_BUF_OK)
        return -1;
    if ((completed ? usage_obj(out, r) : ok(gw_buf_append_str(out, "null"))) < 0)
        return -1;
    return ok(gw_buf_append_str(out, ",\"user\":null,\"metadata\":{}}"));
}

int mock_responses_body(struct gw_buf *out, const struct mock_reply *r)
{
    return response_obj(out, r, 1);
}

/* "event: <type>\ndata: {"type":"<type>","sequence_number":<seq>," - the
 * caller writes the rest and ends it with event_end. */
static int event_start(struct gw_buf *out, const char *type, int seq)
{
    return ok(gw_buf_printf(out, "event: %s\ndata: {\"type\":\"%s\",\"sequence_number\":%d,", type,
                            type, seq));
}

static int event_end(struct gw_buf *out)
{
    return ok(gw_buf_append_str(out, "}\n\n"));
}

/* "item_id":"msg_mock_<id>","output_index":0,"content_index":0, - where a
 * part event's text goes. */
static int part_address(struct gw_buf *out, const struct mock_reply *r)
{
    return ok(gw_buf_printf(out, "\"item_id\":\"msg_mock_%llu\",\"output_index\":0,"
                                 "\"content_index\":0,",
                            r->id));
}

int mock_responses_head(struct gw_buf *out, const struct mock_reply *r)
{
    static const char *const states[] = {"response.created", "response.in_progress"};
    for (int k = 0; k < 2; k++)
        if (event_start(out, states[k], k) < 0 || gw_buf_append_str(out, "\"response\":") != GW_BUF_OK ||
            response_obj(out, r, 0) < 0 || event_end(out) < 0)
            return -1;
    if (event_start(out, "response.output_item.added", 2) < 0 ||
        gw_buf_append_str(out, "\"output_index\":0,\"item\":") != GW_BUF_OK ||
        message_item(out, r, 0) < 0 || event_end(out) < 0)
        return -1;
    if (event_start(out, "response.content_part.added", 3) < 0 || part_address(out, r) < 0 ||
        gw_buf_append_str(out, "\"part\":") != GW_BUF_OK || text_part(out, "") < 0)
        return -1;
    return event_end(out);
}

int mock_responses_delta(struct gw_buf *out, const struct mock_reply *r, int i, int n)
{
    char piece[MOCK_TEXT_MAX];
    if (mock_reply_piece(r, i, n, piece) < 0 ||
        event_start(out, "response.output_text.delta", HEAD_EVENTS + i) < 0 ||
        part_address(out, r) < 0 || gw_buf_append_str(out, "\"delta\":") != GW_BUF_OK ||
        mock_reply_json_str(out, piece) < 0 ||
        gw_buf_append_str(out, ",\"logprobs\":[]") != GW_BUF_OK)
        return -1;
    return event_end(out);
}

int mock_responses_tail(struct gw_buf *out, const struct mock_reply *r, int n)
{
    char text[MOCK_TEXT_MAX];
    int seq = HEAD_EVENTS + n;
    mock_reply_answer(r, text);
    if (event_start(out, "response.output_text.done", seq) < 0 || part_address(out, r) < 0 ||
        gw_buf_append_str(out, "\"text\":") != GW_BUF_OK || mock_reply_json_str(out, text) < 0 ||
        gw_buf_append_str(out, ",\"logprobs\":[]") != GW_BUF_OK || event_end(out) < 0)
        return -1;
    if (event_start(out, "response.content_part.done", seq + 1) < 0 || part_address(out, r) < 0 ||
        gw_buf_append_str(out, "\"part\":") != GW_BUF_OK || text_part(out, text) < 0 ||
        event_end(out) < 0)
        return -1;
    if (event_start(out, "response.output_item.done", seq + 2) < 0 ||
        gw_buf_append_str(out, "\"output_index\":0,\"item\":") != GW_BUF_OK ||
        message_item(out, r, 1) < 0 || event_end(out) < 0)
        return -1;
    if (event_start(out, "response.completed", seq + 3) < 0 ||
        gw_buf_append_str(out, "\"response\":") != GW_BUF_OK || response_obj(out, r, 1) < 0)
        return -1;
    return event_end(out);
}
