#include "CParleyShims.h"

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
