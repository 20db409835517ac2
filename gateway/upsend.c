/* upsend.c -- a browser's send frame: the checks (rate, allowed event, size) and its record for the broker.
 *
 * Pure on purpose (unit test unit.gateway_upsend): client.c answers the
 * frame and hands the record to the broker link; what is allowed and how
 * the record looks is decided here. The user id is the connection's, from
 * its token: a "user" the browser put in the frame is never read. The
 * data is packed once, straight into the record, and its size measured
 * there: the bound is on what the broker forwards and holds. */
#include "upsend.h"
#include "envelope.h"
#include "json_pack.h"
#include "metrics.h"
#include "upmsg.h"

#include <string.h>

_Static_assert (GW_UPSEND_RESULTS == GW_UPSEND_LABELS, "metrics.h and upsend.h agree");

static const char *s_names[GW_UPSEND_RESULTS] = {
    "ok", "upstream", "too_large", "rate", "flood", "no_memory",
};

const char *
gw_upsend_result_name (gw_upsend_result_t result)
{
    return result < GW_UPSEND_RESULTS ? s_names[result] : "other";
}

bool
gw_upsend_event_allowed (const char *list, const char *event, size_t len)
{
    if (!list || !event || len == 0)
        return false;
    for (const char *p = list; *p; ) {
        size_t n = strcspn (p, ",");
        if (n == len && memcmp (p, event, len) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

bool
gw_upsend_events_valid (const char *list)
{
    if (!list || !*list)
        return true;
    size_t count = 0;
    for (const char *p = list; ; p++) {
        size_t n = strcspn (p, ",");
        if (++count > GW_UPSEND_EVENTS_MAX || !hp_event_name_valid (p, n))
            return false;
        p += n;
        if (!*p)
            return true;
    }
}

static int
s_buf_write (void *data, const char *bytes, size_t len)
{
    return hp_buf_append ((hp_buf_t *) data, bytes, len);
}

gw_upsend_result_t
gw_upsend_prepare (const gw_upsend_policy_t *policy, gw_ratelimit_t *bucket, uint32_t now_ms,
                   uint64_t at_ms, const char *user, size_t user_len, const char *event,
                   size_t event_len, const json_t *data, hp_buf_t *out)
{
    hp_buf_reset (out);
    /* every send takes from the budget, allowed or not, so a loop of
     * refused sends meets the flood close too */
    switch (gw_ratelimit_take (bucket, policy->rate, policy->burst, now_ms)) {
        case GW_RATE_OK:
            break;
        case GW_RATE_REFUSED:
            return GW_UPSEND_RATE;
        case GW_RATE_FLOOD:
            return GW_UPSEND_FLOOD;
    }
    if (!event || !hp_event_name_valid (event, event_len)
    ||  !gw_upsend_event_allowed (policy->events, event, event_len))
        return GW_UPSEND_UPSTREAM;
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, s_buf_write);
    if (hp_upmsg_pack_begin (&pk, user, user_len, event, event_len) != 0)
        goto no_memory;
    size_t before = out->len;
    if (data ? hp_json_pack (&pk, data, HP_UPMSG_DATA_DEPTH_MAX) != 0 : msgpack_pack_nil (&pk) != 0) {
        /* too deep, or past the buffer's limit (HP_UPMSG_MAX): both are a
         * data too big to forward */
        hp_buf_reset (out);
        return GW_UPSEND_TOO_LARGE;
    }
    if (out->len - before > policy->max_bytes) {
        hp_buf_reset (out);
        return GW_UPSEND_TOO_LARGE;
    }
    if (hp_upmsg_pack_end (&pk, policy->gateway, policy->gateway_len, at_ms) != 0)
        goto no_memory;
    return GW_UPSEND_OK;
no_memory:
    hp_buf_reset (out);
    return GW_UPSEND_NO_MEMORY;
}
