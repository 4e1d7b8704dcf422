#include "CParleyShims.h"

#include <string.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int add_extension(X509 *cert, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (extension == NULL) return 0;
    int ok = X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
    return ok;
}

/* Copies a memory BIO's contents into out, wiping the BIO's buffer afterwards. */
static CParleyShims_cert_result drain(BIO *bio, unsigned char *out, size_t capacity, size_t *length) {
    char *data = NULL;
    long size = BIO_get_mem_data(bio, &data);
    CParleyShims_cert_result result = CPARLEY_CERT_OK;
    if (size <= 0 || data == NULL) {
        result = CPARLEY_CERT_OPENSSL_FAILED;
    } else if ((size_t)size > capacity) {
        result = CPARLEY_CERT_BUFFER_TOO_SMALL;
    } else {
        memcpy(out, data, (size_t)size);
        *length = (size_t)size;
    }
    if (data != NULL && size > 0) OPENSSL_cleanse(data, (size_t)size);
    return result;
}

static CParleyShims_cert_result der_sha256(X509 *cert, unsigned char sha256[32]) {
    unsigned int digest_length = 0;
    if (X509_digest(cert, EVP_sha256(), sha256, &digest_length) != 1 || digest_length != 32) return CPARLEY_CERT_OPENSSL_FAILED;
    return CPARLEY_CERT_OK;
}

CParleyShims_cert_result CParleyShims_generate_self_signed_p256(
    const char *common_name, int days,
    unsigned char *cert_pem, size_t cert_capacity, size_t *cert_length,
    unsigned char *key_pem, size_t key_capacity, size_t *key_length,
    unsigned char sha256[32]) {
    CParleyShims_cert_result result = CPARLEY_CERT_OPENSSL_FAILED;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    BIO *cert_bio = BIO_new(BIO_s_mem());
    BIO *key_bio = BIO_new(BIO_s_mem());
    unsigned char serial[16];
    BIGNUM *serial_number = NULL;
    if (key == NULL || cert == NULL || cert_bio == NULL || key_bio == NULL || days <= 0) goto done;
    if (RAND_bytes(serial, sizeof serial) != 1) goto done;
    serial[0] &= 0x7f; /* positive */
    serial_number = BN_bin2bn(serial, sizeof serial, NULL);
    if (serial_number == NULL || BN_to_ASN1_INTEGER(serial_number, X509_get_serialNumber(cert)) == NULL) goto done;
    if (X509_set_version(cert, 2) != 1) goto done;
    if (X509_gmtime_adj(X509_getm_notBefore(cert), -60) == NULL) goto done;
    if (X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 24 * 60 * 60) == NULL) goto done;
    if (X509_set_pubkey(cert, key) != 1) goto done;
    X509_NAME *name = X509_get_subject_name(cert);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0) != 1) goto done;
    if (X509_set_issuer_name(cert, name) != 1) goto done;
    if (!add_extension(cert, NID_basic_constraints, "critical,CA:FALSE")) goto done;
    if (!add_extension(cert, NID_key_usage, "critical,digitalSignature")) goto done;
    if (!add_extension(cert, NID_ext_key_usage, "serverAuth")) goto done;
    if (!add_extension(cert, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost")) goto done;
    if (X509_sign(cert, key, EVP_sha256()) <= 0) goto done;
    if (PEM_write_bio_X509(cert_bio, cert) != 1) goto done;
    if (PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL, NULL) != 1) goto done;
    result = drain(cert_bio, cert_pem, cert_capacity, cert_length);
    if (result == CPARLEY_CERT_OK) result = drain(key_bio, key_pem, key_capacity, key_length);
    if (result == CPARLEY_CERT_OK) result = der_sha256(cert, sha256);
done:
    BN_free(serial_number);
    BIO_free(cert_bio);
    BIO_free(key_bio);
    X509_free(cert);
    EVP_PKEY_free(key); /* OpenSSL clears EC private key material on free */
    return result;
}

static X509 *read_certificate(const unsigned char *pem, size_t pem_length) {
    BIO *bio = BIO_new_mem_buf(pem, (int)pem_length);
    if (bio == NULL) return NULL;
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return cert;
}

CParleyShims_cert_result CParleyShims_certificate_sha256(const unsigned char *pem, size_t pem_length, unsigned char sha256[32]) {
    if (pem_length > 1 << 20) return CPARLEY_CERT_NOT_A_CERTIFICATE;
    X509 *cert = read_certificate(pem, pem_length);
    if (cert == NULL) return CPARLEY_CERT_NOT_A_CERTIFICATE;
    CParleyShims_cert_result result = der_sha256(cert, sha256);
    X509_free(cert);
    return result;
}

int CParleyShims_key_matches_certificate(const unsigned char *cert_pem, size_t cert_length,
                                         const unsigned char *key_pem, size_t key_length) {
    if (cert_length > 1 << 20 || key_length > 1 << 20) return 0;
    X509 *cert = read_certificate(cert_pem, cert_length);
    BIO *bio = BIO_new_mem_buf(key_pem, (int)key_length);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    int matches = cert != NULL && key != NULL && X509_check_private_key(cert, key) == 1;
    EVP_PKEY_free(key);
    BIO_free(bio);
    X509_free(cert);
    return matches;
}
