/* main.c -- herald-gateway wiring: settings, the libuv loop, signals. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <uv.h>

#include "audit.h"
#include "log.h"
#include "envcheck.h"
#include "config.h"
#include "fanout.h"
#include "fdlimit.h"
#include "lwslog.h"
#include "metrics.h"
#include "oplog.h"
#include "server.h"
#include "upstream.h"
#include "version.h"

typedef struct {
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_signal_t sighup;
    gw_server_t *server;
    gw_upstream_t *upstream;
    gw_audit_t *audit;
    gw_metrics_t *metrics;
    gw_fanout_t *fanout;
    gw_oplog_t oplog;
} gw_main_t;

/* Runs once the server has closed its clients and its lws context: what is
 * left open in the loop is ours, so closing it lets uv_run return. */
static void
s_on_server_done (void *arg)
{
    gw_main_t *app = arg;
    gw_upstream_stop (app->upstream);
    gw_audit_stop (app->audit);
    gw_oplog_stop (&app->oplog);
    uv_close ((uv_handle_t *) &app->sigterm, NULL);
    uv_close ((uv_handle_t *) &app->sigint, NULL);
    uv_close ((uv_handle_t *) &app->sighup, NULL);
}

/* SIGHUP: read the TLS certificate and key again (a renewed certificate). */
static void
s_on_sighup (uv_signal_t *handle, int signum)
{
    (void) signum;
    gw_main_t *app = handle->data;
    gw_server_reload_tls (app->server);
}

static void
s_on_signal (uv_signal_t *handle, int signum)
{
    gw_main_t *app = handle->data;
    hp_info ("signal %d: closing %llu connections of %llu users (%llu unauthenticated)", signum,
             (unsigned long long) app->metrics->connections,
             (unsigned long long) gw_fanout_user_count (app->fanout),
             (unsigned long long) app->metrics->unauthenticated);
    gw_oplog_check (&app->oplog, uv_now (handle->loop), true);   /* the failures not yet told */
    gw_server_shutdown (app->server, s_on_server_done, app);
}

int
main (int argc, char **argv)
{
    static gw_config_t config;      /* static: holds the 4 KiB secret buffer */
    hp_log_init ("herald-gateway");
    switch (gw_config_parse (&config, argc, argv, stderr)) {
    case GW_CONFIG_HELP:
        gw_config_usage (stdout);
        return 0;
    case GW_CONFIG_VERSION:
        hp_version_print (stdout, "herald-gateway");
        return 0;
    case GW_CONFIG_ERROR:
        return 2;
    case GW_CONFIG_RUN:
        break;
    }
    hp_log_configure (config.log_format, config.log_level);
    hp_env_report ();
    signal (SIGPIPE, SIG_IGN);
    /* server.c sizes lws's tables by the soft limit, listener.c keeps its
     * reserve below it: raised first, --max-connections is not capped by it */
    hp_fd_limit_raise ();

    int rc = 1;
    gw_metrics_t metrics;
    memset (&metrics, 0, sizeof metrics);
    gw_log_init (&metrics);
    gw_main_t app;
    memset (&app, 0, sizeof app);
    app.metrics = &metrics;
    uv_loop_t loop;
    uv_loop_init (&loop);

    gw_fanout_t *fanout = gw_fanout_new (&metrics);
    if (fanout)
        app.upstream = gw_upstream_new (&loop, config.broker, config.control, config.curve_cert,
                                        config.curve_server, fanout, &metrics);
    if (app.upstream)
        app.audit = gw_audit_new (&loop, fanout, gw_upstream_link (app.upstream), &metrics);
    if (app.audit) {
        gw_fanout_set_link (fanout, gw_upstream_link (app.upstream));
        gw_fanout_set_audit (fanout, app.audit);
        app.server = gw_server_new (&loop, &config, &metrics, fanout, app.upstream);
    }
    if (app.server) {
        app.fanout = fanout;
        gw_oplog_start (&app.oplog, &loop, &metrics);
        uv_signal_init (&loop, &app.sigterm);
        uv_signal_init (&loop, &app.sigint);
        app.sigterm.data = app.sigint.data = &app;
        uv_signal_start (&app.sigterm, s_on_signal, SIGTERM);
        uv_signal_start (&app.sigint, s_on_signal, SIGINT);
        uv_signal_init (&loop, &app.sighup);
        app.sighup.data = &app;
        uv_signal_start (&app.sighup, s_on_sighup, SIGHUP);
        hp_info ("listening on %s://%s:%d/ws, broker %s, control %s",
                 config.tls_cert ? "wss" : "ws", config.listen_host, config.listen_port,
                 config.broker, config.control);
        uv_run (&loop, UV_RUN_DEFAULT);
        rc = 0;
    }
    else {
        gw_upstream_stop (app.upstream);
        gw_audit_stop (app.audit);
    }
    /* lws and our handles are closed; run their close callbacks */
    uv_run (&loop, UV_RUN_DEFAULT);
    gw_server_destroy (&app.server);
    gw_upstream_destroy (&app.upstream);
    gw_audit_destroy (&app.audit);
    gw_fanout_destroy (&fanout);
    if (uv_loop_close (&loop) != 0)
        hp_error ("event loop still had open handles at exit");
    gw_config_clear (&config);
    return rc;
}
