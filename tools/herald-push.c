/* herald-push.c -- send events to herald-broker from a shell (one, or one per stdin line). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <msgpack.h>
#include <zmq.h>

#include "confirm.h"
#include "curve.h"
#include "endpoints.h"
#include "envelope.h"
#include "json_pack.h"
#include "lines.h"
#include "version.h"
#include "wire.h"

#define HT_INGEST_DEFAULT   "tcp://127.0.0.1:7401"
#define HT_CONTROL_DEFAULT  "tcp://127.0.0.1:7403"
#define HT_TIMEOUT_DEFAULT  5           /* seconds to wait for the broker */
/* --confirm: seconds each event is retried; a pair's takeover takes about
 * --pair-timeout-ms (2 s by default) after HT_CONFIRM_ATTEMPT_MS of silence */
#define HT_CONFIRM_TIMEOUT_DEFAULT 15
#define HT_LINE_MAX         (1024 * 1024)   /* longest stdin line accepted */
#define HT_ERR_MAX          256
/* The broker refuses envelopes nesting over 32 containers, the envelope map
 * included (proto/PROTOCOL.md), so data may nest 31. */
#define HT_DATA_DEPTH_MAX   31

enum { EXIT_BAD_INPUT = 1, EXIT_USAGE = 2, EXIT_UNCONFIRMED = 3 };

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: herald-push --to USER[,USER...] | --channel NAME | --broadcast\n"
"                   --event NAME [--data JSON] [--id ID]\n"
"                   [--ttl SECONDS] [--idempotency-key KEY] [--receipt SECONDS]\n"
"                   [--key KEY] [--ingest EP]\n"
"                   [--timeout SECONDS] [--curve-cert FILE --curve-server FILE]\n"
"       herald-push - | --stdin [--ingest EP] [--timeout SECONDS] [--curve-...]\n"
"       herald-push --confirm [--control EP] (flags or - as above)\n"
"\n"
"Sends events to herald-broker's ingest socket (ZeroMQ PUSH, msgpack envelope;\n"
"see proto/PROTOCOL.md), or with --confirm through its control socket, each\n"
"answered once the broker committed it. Everything is checked here first,\n"
"with a clear error.\n"
"\n"
"  --to USER[,USER...]  recipients (1-10,000 user ids, each 1-128 bytes of UTF-8\n"
"                       without control characters); may be given more than once;\n"
"                       a user id with a comma in it can be sent with --stdin\n"
"  --channel NAME       instead of --to: every connection subscribed to the\n"
"                       channel (1-128 bytes of [A-Za-z0-9_.:@/=-])\n"
"  --broadcast          instead of --to: every connection\n"
"  --event NAME         event name: 1-64 bytes of [A-Za-z0-9_.:-]\n"
"  --data JSON          payload: any JSON value (integers stay integers)\n"
"  --id ID              your own id for the event (at most 128 bytes)\n"
"  --ttl SECONDS        seconds kept in history for resume (broker default 120;\n"
"                       0 = never stored)\n"
"  --idempotency-key KEY  1-128 bytes: the broker routes an event whose key it\n"
"                       accepted within its --idempotency-window only once\n"
"  --receipt SECONDS    1-3600: ask for delivery receipts (one per recipient on\n"
"                       the broker's receipts stream, within that long)\n"
"  --key KEY            conflation key, 1-128 bytes: a newer event with the same\n"
"                       key replaces this one while it waits in a connection's\n"
"                       queue (a slow client gets the latest value)\n"
"  --ingest EP          broker ingest endpoint (env HERALD_INGEST;\n"
"                       default " HT_INGEST_DEFAULT "); EP1,EP2 for a hot\n"
"                       standby pair (sent to whichever is active)\n"
"  --confirm            send each event as the control request {\"op\":\"publish\"}\n"
"                       and wait for the broker's answer, which comes once the\n"
"                       event is committed (its store per --fsync, and its pair\n"
"                       partner's copy). An event without an idempotency key\n"
"                       gets one (hp-<32 hex digits of this run>-<line>); one\n"
"                       unanswered for 1.5 s, or refused by a passive broker, is\n"
"                       sent again with the same key (to the other broker of a\n"
"                       pair), so it is routed once however often it is sent.\n"
"                       Up to %d events are in flight at once.\n"
"  --control EP         with --confirm: the broker's control endpoint (env\n"
"                       HERALD_CONTROL; default " HT_CONTROL_DEFAULT "); EP1,EP2\n"
"                       for a pair, primary first\n"
"  --curve-cert FILE    this producer's CURVE certificate (herald-keygen NAME\n"
"                       --role producer; NAME.cert_secret is read too; env\n"
"                       HERALD_CURVE_CERT), for a broker run with --curve-allow\n"
"  --curve-server FILE  the broker's public certificate (env HERALD_CURVE_SERVER)\n"
"  --timeout SECONDS    how long to wait for the broker (default %d); with no\n"
"                       broker reachable herald-push gives up after this long\n"
"                       and exits 1, saying what was not sent. With --confirm:\n"
"                       how long each event is retried (default %d)\n"
"  -, --stdin           read one JSON object per line from stdin:\n"
"                       {\"to\":\"alice\" or [\"alice\",\"bob\"] (or \"channel\":\"order:17\",\n"
"                        or \"broadcast\":true), \"event\":\"bid\",\n"
"                        \"data\":..., \"id\":\"...\", \"ttl\":60,\n"
"                        \"idempotency_key\":\"...\", \"receipt\":30, \"key\":\"...\"}\n"
"                       (to as a string is one user id). Bad lines are reported\n"
"                       on stderr with their line number and skipped; blank\n"
"                       lines are ignored; lines over 1 MiB are refused.\n"
"  -h, --help           this text\n"
"  --version            print the version and exit\n"
"\n"
"herald-push exits only once its events were handed to the broker's TCP\n"
"connection (or the timeout passed). Exit status: 0 all sent; 1 a bad line,\n"
"bad JSON or no broker; 2 bad flags. The broker may still drop an envelope\n"
"over its --max-event-bytes (default 65536); it counts that in its metrics.\n"
"\n"
"With --confirm, stdout gets one JSON line per event the broker committed:\n"
"  {\"line\":N,\"offset\":O,\"epoch\":\"<16 hex>\",\"idempotency_key\":\"K\"}\n"
"(\"line\" only with --stdin; \"duplicate\":true when the key was accepted\n"
"before, the offset then being the first one). Exit status: 0 every event\n"
"committed; 1 a bad line, or an event the broker refused (said on stderr with\n"
"its reason, e.g. invalid (bad_to), forbidden); 2 bad flags; 3 an event was\n"
"not answered within --timeout: it may or may not have been accepted, stderr\n"
"names it and its key (sending it again with that key is safe within the\n"
"broker's --idempotency-window), and lines after it were not sent.\n",
             HT_CONFIRM_WINDOW, HT_TIMEOUT_DEFAULT, HT_CONFIRM_TIMEOUT_DEFAULT);
}

/* Checks a spec object ({to | channel | broadcast, event, data, id, ttl,
 * idempotency_key, receipt, key}) and
 * packs it as the producer envelope into sbuf; publish adds "op":"publish"
 * (the control request of --confirm). Returns 0, or -1 with a message in err. */
static int
s_envelope_pack (const json_t *spec, bool publish, msgpack_sbuffer *sbuf, char *err,
                 size_t errlen)
{
    if (!json_is_object (spec)) {
        snprintf (err, errlen, "expected a JSON object");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *) spec, key, value) {
        //  Refused here (the broker would ignore them) because a typo such as
        //  "evnt" should not silently become an event without a name.
        if (strcmp (key, "to") && strcmp (key, "event") && strcmp (key, "data")
        &&  strcmp (key, "id") && strcmp (key, "ttl") && strcmp (key, "idempotency_key")
        &&  strcmp (key, "channel") && strcmp (key, "broadcast")
        &&  strcmp (key, "receipt") && strcmp (key, "key")) {
            snprintf (err, errlen, "unknown key \"%.40s\" (expected to, channel, broadcast, "
                      "event, data, id, ttl, idempotency_key, receipt, key)", key);
            return -1;
        }
    }
    const json_t *event = json_object_get (spec, "event");
    const json_t *to = json_object_get (spec, "to");
    const json_t *channel = json_object_get (spec, "channel");
    const json_t *broadcast = json_object_get (spec, "broadcast");
    const json_t *data = json_object_get (spec, "data");
    const json_t *id = json_object_get (spec, "id");
    const json_t *ttl = json_object_get (spec, "ttl");
    const json_t *ikey = json_object_get (spec, "idempotency_key");
    const json_t *receipt = json_object_get (spec, "receipt");
    const json_t *ckey = json_object_get (spec, "key");

    if (!event || !json_is_string (event)
    ||  !hp_event_name_valid (json_string_value (event), json_string_length (event))) {
        snprintf (err, errlen, "event must be a string of 1-%d bytes of [A-Za-z0-9_.:-]",
                  HP_EVENT_NAME_MAX);
        return -1;
    }
    if ((to != NULL) + (channel != NULL) + (broadcast != NULL) != 1) {
        snprintf (err, errlen, "give exactly one of to (users), channel or broadcast");
        return -1;
    }
    if (channel && (!json_is_string (channel)
                    || !hp_channel_name_valid (json_string_value (channel),
                                               json_string_length (channel)))) {
        snprintf (err, errlen, "channel must be a string of 1-%d bytes of [A-Za-z0-9_.:@/=-]",
                  HP_CHANNEL_MAX);
        return -1;
    }
    if (broadcast && !json_is_true (broadcast)) {
        snprintf (err, errlen, "broadcast must be true");
        return -1;
    }
    size_t recipients = 0;
    if (!to)
        ;
    else
    if (json_is_string (to))
        recipients = 1;
    else
    if (json_is_array (to))
        recipients = json_array_size (to);
    else {
        snprintf (err, errlen, "to must be a user id or an array of user ids");
        return -1;
    }
    if (to && (recipients < 1 || recipients > HP_RECIPIENTS_MAX)) {
        snprintf (err, errlen, "to must name 1-%d users, not %zu", HP_RECIPIENTS_MAX, recipients);
        return -1;
    }
    for (size_t i = 0; i < recipients; i++) {
        const json_t *user = json_is_string (to) ? to : json_array_get (to, i);
        if (!json_is_string (user)
        ||  !hp_user_id_valid (json_string_value (user), json_string_length (user))) {
            snprintf (err, errlen, "recipient %zu is not a valid user id (1-%d bytes of "
                      "UTF-8, no control characters)", i + 1, HP_USER_MAX);
            return -1;
        }
    }
    if (id && (!json_is_string (id) || json_string_length (id) > HP_ID_MAX)) {
        snprintf (err, errlen, "id must be a string of at most %d bytes", HP_ID_MAX);
        return -1;
    }
    if (ttl && (!json_is_integer (ttl) || json_integer_value (ttl) < 0
                || json_integer_value (ttl) > UINT32_MAX)) {
        snprintf (err, errlen, "ttl must be an integer number of seconds, 0-%" PRIu32,
                  UINT32_MAX);
        return -1;
    }

    if (ikey && (!json_is_string (ikey) || json_string_length (ikey) < 1
                 || json_string_length (ikey) > HP_IDEMPOTENCY_KEY_MAX)) {
        snprintf (err, errlen, "idempotency_key must be a string of 1-%d bytes",
                  HP_IDEMPOTENCY_KEY_MAX);
        return -1;
    }
    if (receipt && (!json_is_integer (receipt) || json_integer_value (receipt) < 1
                    || json_integer_value (receipt) > HP_RECEIPT_MAX)) {
        snprintf (err, errlen, "receipt must be an integer number of seconds, 1-%d",
                  HP_RECEIPT_MAX);
        return -1;
    }
    if (ckey && (!json_is_string (ckey)
                 || !hp_key_valid (json_string_value (ckey), json_string_length (ckey)))) {
        snprintf (err, errlen, "key must be a string of 1-%d bytes without a NUL", HP_KEY_MAX);
        return -1;
    }

    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    size_t fields = 2 + (data != NULL) + (id != NULL) + (ttl != NULL) + (ikey != NULL)
                  + (receipt != NULL) + (ckey != NULL) + publish;
    int rc = msgpack_pack_map (&pk, fields);
    if (publish) {
        rc |= msgpack_pack_str_with_body (&pk, "op", 2);
        rc |= msgpack_pack_str_with_body (&pk, "publish", 7);
    }
    rc |= msgpack_pack_str_with_body (&pk, "event", 5);
    rc |= hp_json_pack (&pk, event, 0);
    if (to) {
        rc |= msgpack_pack_str_with_body (&pk, "to", 2);
        rc |= hp_json_pack (&pk, to, 1);
    }
    else
    if (channel) {
        rc |= msgpack_pack_str_with_body (&pk, "channel", 7);
        rc |= hp_json_pack (&pk, channel, 0);
    }
    else {
        rc |= msgpack_pack_str_with_body (&pk, "broadcast", 9);
        rc |= msgpack_pack_true (&pk);
    }
    if (data) {
        rc |= msgpack_pack_str_with_body (&pk, "data", 4);
        if (hp_json_pack (&pk, data, HT_DATA_DEPTH_MAX) != 0) {
            snprintf (err, errlen, "data nests more than %d arrays/objects; the broker "
                      "would refuse it", HT_DATA_DEPTH_MAX);
            return -1;
        }
    }
    if (id) {
        rc |= msgpack_pack_str_with_body (&pk, "id", 2);
        rc |= hp_json_pack (&pk, id, 0);
    }
    if (ttl) {
        rc |= msgpack_pack_str_with_body (&pk, "ttl", 3);
        rc |= msgpack_pack_uint64 (&pk, (uint64_t) json_integer_value (ttl));
    }
    if (ikey) {
        rc |= msgpack_pack_str_with_body (&pk, "idempotency_key", 15);
        rc |= hp_json_pack (&pk, ikey, 0);
    }
    if (receipt) {
        rc |= msgpack_pack_str_with_body (&pk, "receipt", 7);
        rc |= msgpack_pack_uint64 (&pk, (uint64_t) json_integer_value (receipt));
    }
    if (ckey) {
        rc |= msgpack_pack_str_with_body (&pk, "key", 3);
        rc |= hp_json_pack (&pk, ckey, 0);
    }
    if (rc != 0) {
        snprintf (err, errlen, "out of memory packing the envelope");
        return -1;
    }
    if (sbuf->size > HP_EVENT_BYTES_DEFAULT)
        fprintf (stderr, "herald-push: warning: envelope is %zu bytes, over the broker's "
                 "default --max-event-bytes (%d); it may be dropped\n",
                 sbuf->size, HP_EVENT_BYTES_DEFAULT);
    return 0;
}

/* Connects to each endpoint of a comma-separated list (at most two). */
static int
s_connect_list (void *push, const char *list)
{
    char ep[HP_ENDPOINTS_MAX][HP_ENDPOINT_MAX];
    int count = hp_endpoints_parse (list, ep);
    if (count < 0) {
        fprintf (stderr, "herald-push: --ingest takes one endpoint, or two separated by a "
                 "comma (a hot standby pair): \"%s\"\n", list);
        return -1;
    }
    for (int i = 0; i < count; i++)
        if (zmq_connect (push, ep[i]) != 0) {
            fprintf (stderr, "herald-push: bad ingest endpoint \"%s\": %s\n", ep[i],
                     zmq_strerror (errno));
            return -1;
        }
    return 0;
}

/* Hands one envelope to the PUSH socket. ZMQ_IMMEDIATE keeps messages off
 * pipes that are not connected, so the send blocks (up to the timeout) until
 * a broker is there instead of queueing into the void. Returns 0 or -1. */
static int
s_send (void *push, const msgpack_sbuffer *sbuf, const char *endpoint, int timeout_s)
{
    while (zmq_send (push, sbuf->data, sbuf->size, 0) == -1) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            fprintf (stderr, "herald-push: no broker reachable at %s within %d s; "
                     "giving up\n", endpoint, timeout_s);
        else
            fprintf (stderr, "herald-push: send failed: %s\n", zmq_strerror (errno));
        return -1;
    }
    return 0;
}

static bool
s_blank (const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s [i] != ' ' && s [i] != '\t' && s [i] != '\r')
            return false;
    return true;
}

/* --confirm's key for an event given none: this run's random prefix and
 * the event's line number, so every event of every run differs. */
static int
s_key_default (json_t *spec, const char *prefix, long number)
{
    if (!prefix || json_object_get (spec, "idempotency_key"))
        return 0;
    char key [64];
    snprintf (key, sizeof key, "%s-%ld", prefix, number);
    return json_object_set_new (spec, "idempotency_key", json_string (key));
}

/* The spec's idempotency key (copied into out, which holds
 * HP_IDEMPOTENCY_KEY_MAX + 1 bytes); "" when it has none. */
static void
s_key_of (const json_t *spec, char *out)
{
    const char *key = json_string_value (json_object_get (spec, "idempotency_key"));
    snprintf (out, HP_IDEMPOTENCY_KEY_MAX + 1, "%s", key ? key : "");
}

/* One stdin line (number: its line number) as an envelope in sbuf; with
 * key_prefix (--confirm) a control request with a key, which is copied to
 * key (HP_IDEMPOTENCY_KEY_MAX + 1 bytes). Returns 1 when packed, 0 for a
 * blank line, -1 for a bad one (said on stderr). */
static int
s_line_pack (const char *line, size_t len, long number, const char *key_prefix,
             msgpack_sbuffer *sbuf, char *key)
{
    if (s_blank (line, len))
        return 0;
    json_error_t jerr;
    json_t *spec = json_loadb (line, len, 0, &jerr);
    if (!spec) {
        fprintf (stderr, "herald-push: line %ld: not JSON: %s (column %d)\n",
                 number, jerr.text, jerr.column);
        return -1;
    }
    char err [HT_ERR_MAX];
    msgpack_sbuffer_clear (sbuf);
    int rc = json_is_object (spec) ? s_key_default (spec, key_prefix, number) : 0;
    if (rc == 0)
        rc = s_envelope_pack (spec, key_prefix != NULL, sbuf, err, sizeof err);
    else
        snprintf (err, sizeof err, "out of memory");
    if (rc == 0 && key)
        s_key_of (spec, key);
    json_decref (spec);
    if (rc != 0) {
        fprintf (stderr, "herald-push: line %ld: %s\n", number, err);
        return -1;
    }
    return 1;
}

/* One envelope per stdin line. Returns the number of bad lines, or -1 when
 * the broker could not be reached (the rest of stdin is not read). */
static long
s_push_stdin (void *push, const char *endpoint, int timeout_s, long *sent)
{
    ht_lines_t *lines = ht_lines_new (STDIN_FILENO, HT_LINE_MAX);
    if (!lines) {
        fprintf (stderr, "herald-push: out of memory\n");
        return -1;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    long bad = 0;
    long number = 0;
    for (;;) {
        const char *line;
        size_t len;
        ht_lines_result_t r = ht_lines_next (lines, &line, &len);
        if (r == HT_LINES_MORE) {
            if (ht_lines_fill (lines) != 0) {
                fprintf (stderr, "herald-push: reading stdin: %s\n", strerror (errno));
                bad++;
                break;
            }
            continue;
        }
        if (r == HT_LINES_END)
            break;
        number++;
        if (r == HT_LINES_TOO_LONG) {
            fprintf (stderr, "herald-push: line %ld: longer than %d bytes; skipped\n",
                     number, HT_LINE_MAX);
            bad++;
            continue;
        }
        int rc = s_line_pack (line, len, number, NULL, &sbuf, NULL);
        if (rc <= 0) {
            bad += rc < 0;
            continue;
        }
        if (s_send (push, &sbuf, endpoint, timeout_s) != 0) {
            fprintf (stderr, "herald-push: line %ld and any after it were not sent\n", number);
            bad = -1;
            break;
        }
        (*sent)++;
    }
    msgpack_sbuffer_destroy (&sbuf);
    ht_lines_destroy (&lines);
    return bad;
}

/* --confirm: what became of the events so far. */
typedef struct {
    bool numbered;             /* events are stdin lines */
    int  timeout_s;
    long confirmed, refused, unconfirmed;
    bool stop;                 /* read no more input */
} s_confirm_tally_t;

/* One event's outcome: a JSON line on stdout when committed, else stderr. */
static void
s_on_outcome (void *arg, const ht_confirm_outcome_t *o)
{
    s_confirm_tally_t *t = arg;
    char where [32] = "the event";
    if (t->numbered)
        snprintf (where, sizeof where, "line %ld", o->line);
    if (o->result == HT_CONFIRM_OK) {
        t->confirmed++;
        json_t *out = json_object ();
        if (t->numbered)
            json_object_set_new (out, "line", json_integer (o->line));
        json_object_set_new (out, "offset", json_integer ((json_int_t) o->offset));
        json_object_set_new (out, "epoch", json_string (o->epoch));
        json_object_set_new (out, "idempotency_key", json_string (o->key));
        if (o->duplicate)
            json_object_set_new (out, "duplicate", json_true ());
        char *text = json_dumps (out, JSON_COMPACT);
        if (text)
            printf ("%s\n", text);
        fflush (stdout);
        free (text);
        json_decref (out);
    }
    else
    if (o->result == HT_CONFIRM_REFUSED) {
        t->refused++;
        fprintf (stderr, "herald-push: %s: refused by the broker: %s%s%s%s\n", where, o->error,
                 *o->reason ? " (" : "", o->reason, *o->reason ? ")" : "");
        //  every later event would be refused alike
        if (!strcmp (o->error, "forbidden") || !strcmp (o->error, "revoked"))
            t->stop = true;
    }
    else {
        t->unconfirmed++;
        fprintf (stderr, "herald-push: %s: not confirmed within %d s (idempotency_key %s); "
                 "it may or may not have been accepted: sending it again with the same key "
                 "is safe within the broker's --idempotency-window\n",
                 where, t->timeout_s, o->key);
        t->stop = true;
    }
}

/* --confirm: sends one packed request (one, with its key) or every stdin
 * line as control publish requests to control, up to HT_CONFIRM_WINDOW at
 * a time, polling stdin and the broker together so retries run while
 * input is slow. Returns the exit status. */
static int
s_confirm_run (void *ctx, const char *control, const hp_curve_t *curve, int timeout_s,
               const msgpack_sbuffer *one, const char *one_key, const char *key_prefix)
{
    s_confirm_tally_t tally = { .numbered = one == NULL, .timeout_s = timeout_s };
    char err [512];
    ht_confirm_t *c = ht_confirm_new (ctx, control, curve, (uint64_t) timeout_s * 1000,
                                      s_on_outcome, &tally, err, sizeof err);
    if (!c) {
        fprintf (stderr, "herald-push: %s\n", err);
        return EXIT_USAGE;
    }
    ht_lines_t *lines = one ? NULL : ht_lines_new (STDIN_FILENO, HT_LINE_MAX);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    bool input_done = one != NULL;
    long number = 0, bad = 0;
    if (one && ht_confirm_add (c, one->data, one->size, 0, one_key, ht_confirm_now_ms ()) != 0)
        tally.stop = true;
    if (!one && !lines)
        tally.stop = true;
    if (tally.stop)
        fprintf (stderr, "herald-push: out of memory\n");
    for (;;) {
        bool need_input = false;
        while (!input_done && !tally.stop && ht_confirm_room (c)) {
            const char *line;
            size_t len;
            ht_lines_result_t r = ht_lines_next (lines, &line, &len);
            if (r == HT_LINES_MORE) {
                need_input = true;
                break;
            }
            if (r == HT_LINES_END) {
                input_done = true;
                break;
            }
            number++;
            if (r == HT_LINES_TOO_LONG) {
                fprintf (stderr, "herald-push: line %ld: longer than %d bytes; skipped\n",
                         number, HT_LINE_MAX);
                bad++;
                continue;
            }
            char key [HP_IDEMPOTENCY_KEY_MAX + 1];
            int rc = s_line_pack (line, len, number, key_prefix, &sbuf, key);
            if (rc <= 0) {
                bad += rc < 0;
                continue;
            }
            if (ht_confirm_add (c, sbuf.data, sbuf.size, number, key, ht_confirm_now_ms ()) != 0) {
                fprintf (stderr, "herald-push: out of memory\n");
                tally.stop = true;
            }
        }
        if ((input_done || tally.stop) && ht_confirm_pending (c) == 0)
            break;
        void *sock = ht_confirm_socket (c);
        zmq_pollitem_t items [2] = {
            { sock, sock ? 0 : -1, ZMQ_POLLIN, 0 },
            { NULL, STDIN_FILENO, ZMQ_POLLIN, 0 },
        };
        int count = need_input && !tally.stop ? 2 : 1;
        if (zmq_poll (items, count, ht_confirm_wait_ms (c, ht_confirm_now_ms ())) < 0
        &&  zmq_errno () != EINTR) {
            fprintf (stderr, "herald-push: poll failed: %s\n", zmq_strerror (zmq_errno ()));
            break;
        }
        //  POLLHUP (the writer closed the pipe) shows as ZMQ_POLLERR: the
        //  read then sees the end
        if (count == 2 && (items [1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
        &&  ht_lines_fill (lines) != 0) {
            fprintf (stderr, "herald-push: reading stdin: %s\n", strerror (errno));
            bad++;
            input_done = true;
        }
        ht_confirm_service (c, ht_confirm_now_ms ());
    }
    if (!input_done && tally.numbered)
        fprintf (stderr, "herald-push: stopped after line %ld: the lines after it were not "
                 "sent\n", number);
    if (tally.unconfirmed && curve)
        fprintf (stderr, "herald-push: with CURVE no answer also means the broker refuses "
                 "this key (not in its --curve-allow) or --curve-server is not its "
                 "certificate\n");
    if (tally.refused || tally.unconfirmed || bad)
        fprintf (stderr, "herald-push: %ld confirmed, %ld refused, %ld not confirmed, %ld bad "
                 "line(s)\n", tally.confirmed, tally.refused, tally.unconfirmed, bad);
    msgpack_sbuffer_destroy (&sbuf);
    ht_lines_destroy (&lines);
    ht_confirm_destroy (&c);
    return tally.unconfirmed ? EXIT_UNCONFIRMED
         : tally.refused || bad ? EXIT_BAD_INPUT : EXIT_SUCCESS;
}

/* Parses a whole decimal number in [min, max]. Returns 0 or -1. */
static int
s_parse_long (const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol (s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Appends each comma-separated name of list to the array `to`. Returns 0 or -1. */
static int
s_add_recipients (json_t *to, const char *list)
{
    const char *p = list;
    while (true) {
        const char *comma = strchr (p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen (p);
        if (!hp_user_id_valid (p, len)) {
            fprintf (stderr, "herald-push: --to: \"%.*s\" is not a valid user id "
                     "(1-%d bytes of UTF-8, no control characters)\n",
                     (int) (len > 60 ? 60 : len), p, HP_USER_MAX);
            return -1;
        }
        json_array_append_new (to, json_stringn (p, len));
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = {
        { "to",      required_argument, NULL, 't' },
        { "event",   required_argument, NULL, 'e' },
        { "data",    required_argument, NULL, 'd' },
        { "id",      required_argument, NULL, 'i' },
        { "ttl",     required_argument, NULL, 'T' },
        { "ingest",  required_argument, NULL, 'I' },
        { "timeout", required_argument, NULL, 'w' },
        { "stdin",   no_argument,       NULL, 's' },
        { "curve-cert",   required_argument, NULL, 'C' },
        { "curve-server", required_argument, NULL, 'S' },
        { "confirm", no_argument,       NULL, 'c' },
        { "control", required_argument, NULL, 'K' },
        { "idempotency-key", required_argument, NULL, 'k' },
        { "receipt", required_argument, NULL, 'r' },
        { "key",     required_argument, NULL, 'y' },
        { "channel", required_argument, NULL, 'n' },
        { "broadcast", no_argument,     NULL, 'b' },
        { "help",    no_argument,       NULL, 'h' },
        { "version", no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *endpoint = getenv ("HERALD_INGEST");
    if (!endpoint || !*endpoint)
        endpoint = HT_INGEST_DEFAULT;
    const char *control = getenv ("HERALD_CONTROL");
    if (!control || !*control)
        control = HT_CONTROL_DEFAULT;
    const char *curve_cert = getenv ("HERALD_CURVE_CERT");
    const char *curve_server = getenv ("HERALD_CURVE_SERVER");
    hp_curve_t *curve = NULL;
    long timeout_s = 0;           //  0: the mode's default
    bool confirm = false;
    bool ingest_flag = false;
    bool control_flag = false;
    bool from_stdin = false;
    bool event_flags = false;
    json_t *spec = json_object ();
    json_t *to = json_array ();
    int status = EXIT_USAGE;
    void *ctx = NULL;
    void *push = NULL;
    if (!spec || !to) {
        fprintf (stderr, "herald-push: out of memory\n");
        goto done;
    }
    int opt;
    opterr = 0;     //  we print our own, clearer, message
    while ((opt = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
            case 't':
                if (s_add_recipients (to, optarg) != 0)
                    goto done;
                event_flags = true;
                break;
            case 'e':
                json_object_set_new (spec, "event", json_string_nocheck (optarg));
                event_flags = true;
                break;
            case 'd': {
                json_error_t jerr;
                json_t *data = json_loads (optarg, JSON_DECODE_ANY, &jerr);
                if (!data) {
                    fprintf (stderr, "herald-push: --data is not JSON: %s (column %d)\n",
                             jerr.text, jerr.column);
                    goto done;
                }
                json_object_set_new (spec, "data", data);
                event_flags = true;
                break;
            }
            case 'i':
                json_object_set_new (spec, "id", json_string_nocheck (optarg));
                event_flags = true;
                break;
            case 'T': {
                long ttl;
                if (s_parse_long (optarg, 0, (long) UINT32_MAX, &ttl) != 0) {
                    fprintf (stderr, "herald-push: --ttl must be a whole number of "
                             "seconds, 0-%" PRIu32 ", not \"%s\"\n", UINT32_MAX, optarg);
                    goto done;
                }
                json_object_set_new (spec, "ttl", json_integer (ttl));
                event_flags = true;
                break;
            }
            case 'I':
                endpoint = optarg;
                ingest_flag = true;
                break;
            case 'c':
                confirm = true;
                break;
            case 'n':
                if (!hp_channel_name_valid (optarg, strlen (optarg))) {
                    fprintf (stderr, "herald-push: --channel: \"%.60s\" is not a channel name "
                             "(1-%d bytes of [A-Za-z0-9_.:@/=-])\n", optarg, HP_CHANNEL_MAX);
                    goto done;
                }
                json_object_set_new (spec, "channel", json_string_nocheck (optarg));
                event_flags = true;
                break;
            case 'b':
                json_object_set_new (spec, "broadcast", json_true ());
                event_flags = true;
                break;
            case 'K':
                control = optarg;
                control_flag = true;
                break;
            case 'k': {
                size_t len = strlen (optarg);
                if (len < 1 || len > HP_IDEMPOTENCY_KEY_MAX) {
                    fprintf (stderr, "herald-push: --idempotency-key must be 1-%d bytes\n",
                             HP_IDEMPOTENCY_KEY_MAX);
                    goto done;
                }
                json_object_set_new (spec, "idempotency_key", json_string_nocheck (optarg));
                event_flags = true;
                break;
            }
            case 'r': {
                long seconds;
                if (s_parse_long (optarg, 1, HP_RECEIPT_MAX, &seconds) != 0) {
                    fprintf (stderr, "herald-push: --receipt must be a whole number of "
                             "seconds, 1-%d, not \"%s\"\n", HP_RECEIPT_MAX, optarg);
                    goto done;
                }
                json_object_set_new (spec, "receipt", json_integer (seconds));
                event_flags = true;
                break;
            }
            case 'y':
                if (!hp_key_valid (optarg, strlen (optarg))) {
                    fprintf (stderr, "herald-push: --key must be 1-%d bytes\n", HP_KEY_MAX);
                    goto done;
                }
                json_object_set_new (spec, "key", json_string_nocheck (optarg));
                event_flags = true;
                break;
            case 'w':
                if (s_parse_long (optarg, 1, 3600, &timeout_s) != 0) {
                    fprintf (stderr, "herald-push: --timeout must be 1-3600 seconds\n");
                    goto done;
                }
                break;
            case 's':
                from_stdin = true;
                break;
            case 'C':
                curve_cert = optarg;
                break;
            case 'S':
                curve_server = optarg;
                break;
            case 'h':
                s_usage (stdout);
                status = EXIT_SUCCESS;
                goto done;
            case 'V':
                hp_version_print (stdout, "herald-push");
                status = EXIT_SUCCESS;
                goto done;
            case ':':
                fprintf (stderr, "herald-push: %s needs a value (see --help)\n", argv [optind - 1]);
                goto done;
            default:
                fprintf (stderr, "herald-push: unknown option %s (see --help)\n", argv [optind - 1]);
                goto done;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (strcmp (argv [i], "-") == 0)
            from_stdin = true;
        else {
            fprintf (stderr, "herald-push: unexpected argument \"%s\" (see --help)\n", argv [i]);
            goto done;
        }
    }
    if (from_stdin && event_flags) {
        fprintf (stderr, "herald-push: give the event either as flags or on stdin, not both\n");
        goto done;
    }
    if (!from_stdin && !event_flags) {
        s_usage (stderr);
        goto done;
    }
    if (curve_cert && !*curve_cert)
        curve_cert = NULL;
    if (curve_server && !*curve_server)
        curve_server = NULL;
    if (!curve_cert != !curve_server) {
        fprintf (stderr, "herald-push: --curve-cert and --curve-server go together (this "
                 "producer's key and the broker's public key)\n");
        goto done;
    }
    if (curve_cert) {
        char err [512];
        if (!(curve = hp_curve_new (curve_cert, curve_server, err, sizeof err))) {
            fprintf (stderr, "herald-push: %s\n", err);
            goto done;
        }
    }
    if (confirm && ingest_flag) {
        fprintf (stderr, "herald-push: --confirm publishes through the broker's control socket: "
                 "give --control EP (or EP1,EP2), not --ingest\n");
        goto done;
    }
    if (!confirm && control_flag) {
        fprintf (stderr, "herald-push: --control is for --confirm (without it events go to "
                 "--ingest)\n");
        goto done;
    }
    if (timeout_s == 0)
        timeout_s = confirm ? HT_CONFIRM_TIMEOUT_DEFAULT : HT_TIMEOUT_DEFAULT;
    //  --confirm's keys for events given none: unique to this run
    char key_prefix [40];
    snprintf (key_prefix, sizeof key_prefix, "hp-%016llx%016llx",
              (unsigned long long) hp_epoch_new (), (unsigned long long) hp_epoch_new ());
    char one_key [HP_IDEMPOTENCY_KEY_MAX + 1] = "";
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    if (!from_stdin) {
        char err [HT_ERR_MAX];
        if (json_array_size (to) > 0)
            json_object_set (spec, "to", to);
        int addressing = (json_object_get (spec, "to") != NULL)
                       + (json_object_get (spec, "channel") != NULL)
                       + (json_object_get (spec, "broadcast") != NULL);
        if (addressing != 1) {
            fprintf (stderr, addressing ? "herald-push: give one of --to, --channel and --broadcast\n"
                                        : "herald-push: --to (or --channel, or --broadcast) is required\n");
            msgpack_sbuffer_destroy (&sbuf);
            goto done;
        }
        if (!json_object_get (spec, "event")) {
            fprintf (stderr, "herald-push: --event is required\n");
            msgpack_sbuffer_destroy (&sbuf);
            goto done;
        }
        if (confirm && s_key_default (spec, key_prefix, 1) != 0)
            snprintf (err, sizeof err, "out of memory");
        else
        if (s_envelope_pack (spec, confirm, &sbuf, err, sizeof err) == 0)
            err [0] = '\0';
        if (err [0]) {
            fprintf (stderr, "herald-push: %s\n", err);
            msgpack_sbuffer_destroy (&sbuf);
            goto done;
        }
        s_key_of (spec, one_key);
    }
    if (confirm) {
        ctx = zmq_ctx_new ();
        status = ctx ? s_confirm_run (ctx, control, curve, (int) timeout_s,
                                      from_stdin ? NULL : &sbuf, one_key,
                                      key_prefix)
                     : EXIT_BAD_INPUT;
        msgpack_sbuffer_destroy (&sbuf);
        goto done;
    }

    status = EXIT_BAD_INPUT;
    int timeout_ms = (int) timeout_s * 1000;
    int immediate = 1;
    ctx = zmq_ctx_new ();
    push = ctx ? zmq_socket (ctx, ZMQ_PUSH) : NULL;
    if (!push
    ||  zmq_setsockopt (push, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0
    ||  zmq_setsockopt (push, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms) != 0
    ||  zmq_setsockopt (push, ZMQ_LINGER, &timeout_ms, sizeof timeout_ms) != 0
    ||  (curve && hp_curve_apply_client (curve, push) != 0)) {
        fprintf (stderr, "herald-push: cannot create a ZeroMQ socket: %s\n", zmq_strerror (errno));
        msgpack_sbuffer_destroy (&sbuf);
        goto done;
    }
    /* "EP1,EP2" (a hot standby pair): connected to both; only the active
     * broker binds its ingest socket, and ZMQ_IMMEDIATE keeps messages off
     * a connection that never completed, so they go to the active one */
    if (s_connect_list (push, endpoint) != 0) {
        msgpack_sbuffer_destroy (&sbuf);
        status = EXIT_USAGE;
        goto done;
    }
    bool unreachable = false;
    if (from_stdin) {
        long sent = 0;
        long bad = s_push_stdin (push, endpoint, (int) timeout_s, &sent);
        if (bad > 0)
            fprintf (stderr, "herald-push: %ld event(s) sent, %ld bad line(s) skipped\n", sent, bad);
        status = bad == 0 ? EXIT_SUCCESS : EXIT_BAD_INPUT;
        unreachable = bad < 0;
    }
    else {
        unreachable = s_send (push, &sbuf, endpoint, (int) timeout_s) != 0;
        status = unreachable ? EXIT_BAD_INPUT : EXIT_SUCCESS;
    }
    //  A broker that refuses the key never completes the handshake, which
    //  looks exactly like no broker at all from here.
    if (unreachable && curve)
        fprintf (stderr, "herald-push: with CURVE this also happens when the broker refuses "
                 "the key of %s (not in its --curve-allow, or without the producer role) "
                 "or %s is not the broker's certificate\n", curve_cert, curve_server);
    msgpack_sbuffer_destroy (&sbuf);

done:
    //  Closing with a linger and terminating the context blocks until the
    //  queued envelopes are written to the broker's connection (or the linger,
    //  the same timeout, passes): that is how herald-push "waits for delivery".
    if (push)
        zmq_close (push);
    if (ctx)
        while (zmq_ctx_term (ctx) == -1 && errno == EINTR)
            ;
    hp_curve_destroy (&curve);
    json_decref (to);
    json_decref (spec);
    return status;
}
