/* session.c -- one client connection: owns its input (client), output (delivery) and streams (subs).
 *
 * The connection object only wires lws's events to its parts: frames from
 * the browser go to client.c, writes and the close to delivery.c, broker
 * events reach its sub (sub.c) through the fanout map, never through here. */
#include "session.h"

#include <stdlib.h>

#include <libwebsockets.h>

#include "chanset.h"
#include "client.h"
#include "delivery.h"
#include "fanout.h"
#include "sub.h"

/* Kept small on purpose: an idle authenticated connection costs this plus
 * lws's own state. What a live event reads (the sub, then the delivery)
 * comes first. */
struct gw_session {
    gw_sub_t user;              /* the user's own events and the broadcasts */
    gw_delivery_t out;
    gw_client_t client;
    gw_chanset_t *channels;     /* the channels it follows; NULL until the first */
};

gw_session_t *
gw_session_new (gw_session_env_t *env, struct lws *wsi)
{
    gw_session_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    gw_delivery_init (&self->out, env, wsi);
    gw_sub_init (&self->user, &self->out);
    gw_client_init (&self->client);
    env->metrics->connections++;
    env->metrics->connections_total++;
    lws_set_timer_usecs (wsi, (lws_usec_t) (env->config->auth_timeout * LWS_US_PER_SEC));
    return self;
}

void
gw_session_destroy (gw_session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_session_t *self = *self_p;
    gw_session_env_t *env = self->out.env;
    /* channels first: their presence topics name the user */
    gw_chanset_destroy (&self->channels);
    if (self->user.stream)
        gw_fanout_detach (env->fanout, self->user.stream, &self->user);
    gw_sub_fini (&self->user);
    gw_delivery_fini (&self->out);
    gw_client_fini (&self->client);
    gw_delivery_count_close (&self->out);
    env->metrics->connections--;
    free (self);
    *self_p = NULL;
}

int
gw_session_on_receive (gw_session_t *self, const void *in, size_t len)
{
    return gw_client_on_receive (&self->client, &self->out, &self->user, &self->channels,
                                 in, len);
}

int
gw_session_on_writeable (gw_session_t *self)
{
    return gw_delivery_on_writeable (&self->out);
}

int
gw_session_on_timer (gw_session_t *self)
{
    if (gw_delivery_closing (&self->out))      /* from gw_delivery_close */
        return gw_delivery_close_now (&self->out, self->out.close_code);
    if (!gw_client_authed (&self->client))
        return gw_client_on_auth_timeout (&self->client, &self->out);
    gw_delivery_timer_fired (&self->out);
    gw_sub_on_timer (&self->user);
    gw_chanset_on_timer (self->channels);
    return 0;
}

void
gw_session_on_peer_close (gw_session_t *self, int code)
{
    gw_delivery_on_peer_close (&self->out, code);
}

void
gw_session_close (gw_session_t *self, int code)
{
    gw_delivery_close (&self->out, code);
}

bool
gw_session_authed (const gw_session_t *self)
{
    return gw_client_authed (&self->client);
}
