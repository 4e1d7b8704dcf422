#ifndef CRAWTLS_H
#define CRAWTLS_H
/* A blocking TLS client socket for tests and benchmarks that must put arbitrary bytes on
 * the wire (malformed WebSocket frames, dripped handshakes). Not for production: it does
 * not verify the server certificate; it reports its SHA-256 instead so tests can check it.
 * One handle per thread at a time. */
#include <stddef.h>

typedef struct crawtls crawtls;

/* Connects to host:port (IPv4 dotted quad) from an optional source address (NULL: any),
 * completes the TLS handshake unless handshake == 0 (then the raw TCP socket is used, for
 * slowloris tests), with a timeout in milliseconds. NULL on failure (errno-style reason in
 * *error, a static string). */
crawtls *crawtls_connect(const char *host, int port, const char *source, int handshake, int timeout_ms, const char **error);
/* Writes all bytes (TLS or raw). Returns 0, or -1 when the connection is gone. */
int crawtls_write(crawtls *c, const void *bytes, size_t length);
/* Reads up to capacity bytes, waiting at most timeout_ms. Returns the count, 0 on an
 * orderly close, -1 on error, -2 on timeout. */
long crawtls_read(crawtls *c, void *buffer, size_t capacity, int timeout_ms);
/* SHA-256 of the server certificate's DER (after a TLS handshake). 0 on success. */
int crawtls_peer_sha256(crawtls *c, unsigned char out[32]);
/* The raw file descriptor (for the slowloris test to drip bytes). */
int crawtls_fd(crawtls *c);
void crawtls_close(crawtls *c);
#endif
