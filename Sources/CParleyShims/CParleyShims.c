#define _GNU_SOURCE
#include <pthread.h>
#include "CParleyShims.h"
#include <stdlib.h>

gulong CParleyShims_g_signal_connect(gpointer instance, const gchar *signal, GCallback handler, gpointer data) {
    return g_signal_connect(instance, signal, handler, data);
}

#include <libwebsockets.h>

size_t CParleyShims_lws_pre(void) {
    return LWS_PRE;
}

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/evp.h>

void CParleyShims_ssl_ctx_release_buffers(void *ssl_ctx) {
    if (ssl_ctx) SSL_CTX_set_mode((SSL_CTX *)ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
}

void CParleyShims_ssl_ctx_disable_session_cache(void *ssl_ctx) {
    if (!ssl_ctx) return;
    SSL_CTX_set_session_cache_mode((SSL_CTX *)ssl_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets((SSL_CTX *)ssl_ctx, 0);
}

int CParleyShims_verify_leaf_sha256(void *x509_store_ctx, unsigned char sha256[32]) {
    X509_STORE_CTX *ctx = (X509_STORE_CTX *)x509_store_ctx;
    if (!ctx) return -1;
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    if (depth != 0) return depth;
    X509 *leaf = X509_STORE_CTX_get_current_cert(ctx);
    unsigned int length = 0;
    if (!leaf || !X509_digest(leaf, EVP_sha256(), sha256, &length) || length != 32) return -1;
    return 0;
}

void CParleyShims_verify_set_result(void *x509_store_ctx, int accept) {
    X509_STORE_CTX *ctx = (X509_STORE_CTX *)x509_store_ctx;
    if (ctx) X509_STORE_CTX_set_error(ctx, accept ? X509_V_OK : X509_V_ERR_CERT_REJECTED);
}

#include <ev.h>

void *CParleyShims_ev_loop_new(void) {
    /* EVFLAG_NOSIGMASK: libev leaves the thread's signal mask alone (the command blocks
     * and waits for its signals itself). EVFLAG_AUTO picks epoll on Linux. */
    return ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
}

int CParleyShims_ev_backend_is_epoll(void *loop) {
    return loop && ev_backend((struct ev_loop *)loop) == EVBACKEND_EPOLL;
}

void CParleyShims_ev_run(void *loop) { ev_run((struct ev_loop *)loop, 0); }

void CParleyShims_ev_break(void *loop) { ev_break((struct ev_loop *)loop, EVBREAK_ALL); }

void CParleyShims_ev_loop_destroy(void *loop) { if (loop) ev_loop_destroy((struct ev_loop *)loop); }

/* A one-shot libev timer calling back into Swift. lws 4.1.6's libev glue cannot move its
 * own timer earlier once armed, so Parley's deadlines use a timer of their own. */
struct CParleyShims_ev_timer {
    ev_timer watcher; /* first: the callback casts back */
    void (*callback)(void *context);
    void *context;
};

static void CParleyShims_ev_timer_fired(struct ev_loop *loop, ev_timer *watcher, int revents) {
    (void)loop; (void)revents;
    struct CParleyShims_ev_timer *timer = (struct CParleyShims_ev_timer *)watcher;
    timer->callback(timer->context);
}

void *CParleyShims_ev_timer_new(void (*callback)(void *context), void *context) {
    struct CParleyShims_ev_timer *timer = calloc(1, sizeof *timer);
    if (!timer) return NULL;
    ev_init(&timer->watcher, CParleyShims_ev_timer_fired);
    timer->callback = callback;
    timer->context = context;
    return timer;
}

void CParleyShims_ev_timer_schedule(void *loop, void *timer, double seconds) {
    struct CParleyShims_ev_timer *t = timer;
    ev_timer_stop((struct ev_loop *)loop, &t->watcher);
    ev_timer_set(&t->watcher, seconds < 0 ? 0 : seconds, 0.);
    ev_timer_start((struct ev_loop *)loop, &t->watcher);
}

void CParleyShims_ev_timer_free(void *loop, void *timer) {
    if (!timer) return;
    if (loop) ev_timer_stop((struct ev_loop *)loop, &((struct CParleyShims_ev_timer *)timer)->watcher);
    free(timer);
}

int CParleyShims_name_thread(unsigned long thread, const char *name) {
    return pthread_setname_np((pthread_t)thread, name);
}
