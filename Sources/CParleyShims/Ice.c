/* libnice glue for Parley's ICE transport: agent properties (g_object_set is variadic),
 * libnice's debug switch, and socket buffer sizes. */
#include "CParleyShims.h"
#include <nice/agent.h>
#include <nice/debug.h>
#include <errno.h>
#include <sys/socket.h>

void CParleyShims_ice_agent_configure(void *agent, const CParleyShims_ice_agent_settings *settings) {
    if (!agent || !settings) return;
    g_object_set(G_OBJECT(agent),
                 "upnp", FALSE,
                 "ice-udp", TRUE,
                 "ice-tcp", settings->ice_tcp ? TRUE : FALSE,
                 "force-relay", settings->force_relay ? TRUE : FALSE,
                 "controlling-mode", settings->controlling ? TRUE : FALSE,
                 "stun-pacing-timer", (guint)settings->stun_pacing_ms,
                 "stun-initial-timeout", (guint)settings->stun_initial_timeout_ms,
                 "stun-max-retransmissions", (guint)settings->stun_max_retransmissions,
                 NULL);
    if (settings->stun_server) {
        g_object_set(G_OBJECT(agent),
                     "stun-server", settings->stun_server,
                     "stun-server-port", (guint)settings->stun_server_port,
                     NULL);
    }
}

void CParleyShims_ice_disable_debug_output(void) {
    nice_debug_disable(TRUE);
}

int CParleyShims_set_socket_buffers(int fd, int receive_bytes, int send_bytes,
                                    int *granted_receive, int *granted_send) {
    int result = 0;
    if (receive_bytes > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_bytes, sizeof receive_bytes) != 0)
        result = errno;
    if (send_bytes > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_bytes, sizeof send_bytes) != 0 && result == 0)
        result = errno;
    socklen_t length = sizeof(int);
    if (granted_receive && getsockopt(fd, SOL_SOCKET, SO_RCVBUF, granted_receive, &length) != 0 && result == 0)
        result = errno;
    length = sizeof(int);
    if (granted_send && getsockopt(fd, SOL_SOCKET, SO_SNDBUF, granted_send, &length) != 0 && result == 0)
        result = errno;
    return result;
}

/* The poll hook of the loop thread: GLib's poll function takes no user data, so the
 * callback and its argument are thread-locals of the thread that runs the context. */
static __thread CParleyShims_poll_hook poll_hook;
static __thread void *poll_hook_argument;

static gint CParleyShims_hooked_poll(GPollFD *fds, guint count, gint timeout) {
    if (poll_hook) poll_hook(poll_hook_argument);
    return g_poll(fds, count, timeout);
}

void CParleyShims_set_poll_hook(GMainContext *context, CParleyShims_poll_hook hook, void *argument) {
    poll_hook = hook;
    poll_hook_argument = argument;
    g_main_context_set_poll_func(context, hook ? CParleyShims_hooked_poll : NULL);
}
