#ifndef CPARLEY_SHIMS_H
#define CPARLEY_SHIMS_H

/* C glue for what Swift cannot import directly (macros, variadic functions) and for
 * the few OpenSSL steps the signalling server needs. Every function is prefixed
 * CParleyShims_. Thread safety: every function is safe to call from any thread. */

#include <stddef.h>
#include <glib-object.h>

/* g_signal_connect is a macro; this is the same call as a function. */
gulong CParleyShims_g_signal_connect(gpointer instance, const gchar *signal, GCallback handler, gpointer data);

/* LWS_PRE, the headroom lws_write needs before the payload (a computed macro). */
size_t CParleyShims_lws_pre(void);

/* Result codes of the certificate helpers. */
typedef enum {
    CPARLEY_CERT_OK = 0,
    CPARLEY_CERT_BUFFER_TOO_SMALL = 1,
    CPARLEY_CERT_OPENSSL_FAILED = 2,
    CPARLEY_CERT_NOT_A_CERTIFICATE = 3,
} CParleyShims_cert_result;

/* Generates a self-signed P-256 certificate for the signalling server's first start:
 * subject and issuer CN = common_name, valid from now for `days`, subjectAltName
 * IP:127.0.0.1 and DNS:localhost, serverAuth, signed with ECDSA-SHA256.
 * Writes the certificate PEM into cert_pem (cert_capacity bytes) and the PKCS#8
 * private key PEM into key_pem (key_capacity bytes; the caller's protected buffer),
 * their lengths into *cert_length / *key_length (no terminating NUL), and the
 * SHA-256 of the certificate's DER encoding (the pin devices use) into sha256.
 * OpenSSL's own copies of the key are wiped before returning. */
CParleyShims_cert_result CParleyShims_generate_self_signed_p256(
    const char *common_name, int days,
    unsigned char *cert_pem, size_t cert_capacity, size_t *cert_length,
    unsigned char *key_pem, size_t key_capacity, size_t *key_length,
    unsigned char sha256[32]);

/* SHA-256 of the DER encoding of the first certificate in a PEM buffer. */
CParleyShims_cert_result CParleyShims_certificate_sha256(const unsigned char *pem, size_t pem_length, unsigned char sha256[32]);

/* 1 when the PKCS#8 PEM private key matches the PEM certificate's public key, else 0. */
int CParleyShims_key_matches_certificate(const unsigned char *cert_pem, size_t cert_length,
                                         const unsigned char *key_pem, size_t key_length);

/* TLS helpers for the signalling server and client (OpenSSL through lws).
 * ssl_ctx is lws's SSL_CTX* (the `user` of LWS_CALLBACK_OPENSSL_LOAD_EXTRA_*_VERIFY_CERTS). */

/* SSL_MODE_RELEASE_BUFFERS: an idle connection holds no read/write buffers (~34 KB less each). */
void CParleyShims_ssl_ctx_release_buffers(void *ssl_ctx);

/* No server-side session cache and no session tickets: nothing per client kept after close. */
void CParleyShims_ssl_ctx_disable_session_cache(void *ssl_ctx);

/* In LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION (user = X509_STORE_CTX*):
 * returns the depth of the certificate being verified; at depth 0 (the server's own
 * certificate) writes SHA-256 of its DER into sha256. -1 on failure. */
int CParleyShims_verify_leaf_sha256(void *x509_store_ctx, unsigned char sha256[32]);

/* Sets the verification result of the current certificate: X509_V_OK when accept is
 * nonzero, X509_V_ERR_CERT_REJECTED otherwise. */
void CParleyShims_verify_set_result(void *x509_store_ctx, int accept);

/* libev, for lws's libev event library with a loop Parley owns ("foreign" to lws): one
 * loop per lws context and thread. ev_run returns after ev_break, which must be called
 * on the loop's own thread (from an lws callback or timer). */
void *CParleyShims_ev_loop_new(void);
int CParleyShims_ev_backend_is_epoll(void *loop);
void CParleyShims_ev_run(void *loop);
void CParleyShims_ev_break(void *loop);
void CParleyShims_ev_loop_destroy(void *loop);

/* A one-shot timer on a libev loop (lws 4.1.6's libev glue does not move its own timer
 * earlier once armed). schedule replaces any earlier schedule; free stops it first.
 * Loop thread only. */
void *CParleyShims_ev_timer_new(void (*callback)(void *context), void *context);
void CParleyShims_ev_timer_schedule(void *loop, void *timer, double seconds);
void CParleyShims_ev_timer_free(void *loop, void *timer);

/* libnice glue for Parley's ICE transport (Sources/Parley/ICE). `agent` is a NiceAgent*.
 * g_object_set is variadic, so agent properties are set here. */

/* Agent properties Parley sets before gathering. Every field is applied. */
typedef struct {
    unsigned int stun_pacing_ms;          /* "stun-pacing-timer" (Ta), >= 1 */
    unsigned int stun_initial_timeout_ms; /* "stun-initial-timeout" (RTO), 20...9999 */
    unsigned int stun_max_retransmissions;/* "stun-max-retransmissions" (Rc), 1...99 */
    int ice_tcp;                          /* "ice-tcp" */
    int force_relay;                      /* "force-relay": only relayed local candidates */
    int controlling;                      /* "controlling-mode" */
    const char *stun_server;              /* "stun-server", a numeric IP address, or NULL */
    unsigned int stun_server_port;        /* "stun-server-port" */
} CParleyShims_ice_agent_settings;

/* Applies `settings` and turns UPnP off (Debian's libnice enables it; discovery adds
 * ~200 ms to every gathering and a call never needs a port mapping). */
void CParleyShims_ice_agent_configure(void *agent, const CParleyShims_ice_agent_settings *settings);

/* Turns libnice's and libstun's debug output off for the process: with NICE_DEBUG or
 * G_MESSAGES_DEBUG set, libnice prints ICE passwords in its connectivity-check logs. */
void CParleyShims_ice_disable_debug_output(void);

/* Sets SO_RCVBUF / SO_SNDBUF on a socket (values <= 0 are left alone) and writes what the
 * kernel granted (getsockopt, the doubled figure Linux reports) into the out-parameters.
 * Returns 0, or errno of the first failing call. */
int CParleyShims_set_socket_buffers(int fd, int receive_bytes, int send_bytes,
                                    int *granted_receive, int *granted_send);

/* Names a thread (pthread_setname_np, which needs _GNU_SOURCE); at most 15 bytes and a NUL. */
int CParleyShims_name_thread(unsigned long thread, const char *name);

/* Calls `hook(argument)` each time the thread running `context` is about to poll (once
 * per main-loop iteration, after the sources ready in it were dispatched). Call it on that
 * thread (the hook is thread-local); a NULL hook restores g_poll. */
typedef void (*CParleyShims_poll_hook)(void *argument);
void CParleyShims_set_poll_hook(GMainContext *context, CParleyShims_poll_hook hook, void *argument);

#endif
