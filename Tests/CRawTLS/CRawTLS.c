#include "CRawTLS.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct crawtls { int fd; SSL_CTX *ctx; SSL *ssl; };

static int wait_fd(int fd, short events, int timeout_ms) {
    struct pollfd p = { .fd = fd, .events = events };
    int n;
    do { n = poll(&p, 1, timeout_ms); } while (n < 0 && errno == EINTR);
    return n;
}

crawtls *crawtls_connect(const char *host, int port, const char *source, int handshake, int timeout_ms, const char **error) {
    *error = NULL;
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    if (inet_pton(AF_INET, host, &to.sin_addr) != 1) { *error = "bad host address"; return NULL; }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { *error = "socket failed"; return NULL; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (source) {
        struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = 0 };
        if (inet_pton(AF_INET, source, &from.sin_addr) != 1 || bind(fd, (struct sockaddr *)&from, sizeof from) != 0) {
            close(fd); *error = "bind to source failed"; return NULL;
        }
    }
    struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) { close(fd); *error = "connect failed"; return NULL; }
    crawtls *c = calloc(1, sizeof *c);
    c->fd = fd;
    if (!handshake) return c;
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, fd);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (SSL_connect(c->ssl) != 1) { *error = "TLS handshake failed"; crawtls_close(c); return NULL; }
    struct timeval none = { 0, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    return c;
}

int crawtls_write(crawtls *c, const void *bytes, size_t length) {
    const unsigned char *p = bytes;
    while (length > 0) {
        long n = c->ssl ? SSL_write(c->ssl, p, (int)(length > 1 << 30 ? 1 << 30 : length))
                        : (long)send(c->fd, p, length, MSG_NOSIGNAL);
        if (n <= 0) {
            if (!c->ssl && n < 0 && errno == EINTR) continue;
            return -1;
        }
        p += n; length -= (size_t)n;
    }
    return 0;
}

long crawtls_read(crawtls *c, void *buffer, size_t capacity, int timeout_ms) {
    if (c->ssl && SSL_pending(c->ssl) > 0) return SSL_read(c->ssl, buffer, (int)capacity);
    for (;;) {
        int ready = wait_fd(c->fd, POLLIN, timeout_ms);
        if (ready == 0) return -2;
        if (ready < 0) return -1;
        if (!c->ssl) {
            long n = recv(c->fd, buffer, capacity, 0);
            return n < 0 ? -1 : n;
        }
        int n = SSL_read(c->ssl, buffer, (int)capacity);
        if (n > 0) return n;
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ) continue;  /* a TLS record without application data (tickets) */
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;  /* EOF without close_notify */
        return -1;
    }
}

int crawtls_peer_sha256(crawtls *c, unsigned char out[32]) {
    if (!c->ssl) return -1;
    X509 *cert = SSL_get1_peer_certificate(c->ssl);
    if (!cert) return -1;
    unsigned int n = 0;
    int ok = X509_digest(cert, EVP_sha256(), out, &n) && n == 32;
    X509_free(cert);
    return ok ? 0 : -1;
}

int crawtls_fd(crawtls *c) { return c->fd; }

void crawtls_close(crawtls *c) {
    if (!c) return;
    if (c->ssl) SSL_free(c->ssl);
    if (c->ctx) SSL_CTX_free(c->ctx);
    if (c->fd >= 0) close(c->fd);
    free(c);
}
