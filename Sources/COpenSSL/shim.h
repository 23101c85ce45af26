#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/bn.h>

/*
 * Wrappers for OpenSSL macros Swift cannot import (function-like macros over SSL_ctrl,
 * BIO flags, typed stacks, OPENSSL_free). Nothing here has logic of its own; only
 * CausewayTLS imports this module.
 */

/* SSL_CTX settings that OpenSSL exposes only as SSL_CTX_ctrl macros. */

static inline long causeway_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline int causeway_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int causeway_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

static inline long causeway_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

static inline int causeway_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}

/* SSL_OP_* are built with SSL_OP_BIT(n), a cast-and-shift macro Swift does not import. */

static inline uint64_t causeway_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t causeway_SSL_OP_CIPHER_SERVER_PREFERENCE(void) { return SSL_OP_CIPHER_SERVER_PREFERENCE; }
static inline uint64_t causeway_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t causeway_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }

/* The per-SSL slot where CausewayTLS keeps its connection object (SSL_get_ex_new_index). */

static inline int causeway_SSL_get_ex_new_index(void) {
    return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* BIO retry flags, for the in-memory BIO method. */

static inline void causeway_BIO_set_retry_read(BIO *bio) { BIO_set_retry_read(bio); }
static inline void causeway_BIO_clear_retry_flags(BIO *bio) { BIO_clear_retry_flags(bio); }

/* STACK_OF(GENERAL_NAME) accessors (typed-stack macros). */

static inline GENERAL_NAMES *causeway_sk_GENERAL_NAME_new_null(void) {
    return sk_GENERAL_NAME_new_null();
}

static inline int causeway_sk_GENERAL_NAME_push(GENERAL_NAMES *names, GENERAL_NAME *name) {
    return sk_GENERAL_NAME_push(names, name);
}

static inline int causeway_sk_GENERAL_NAME_num(const GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}

static inline GENERAL_NAME *causeway_sk_GENERAL_NAME_value(const GENERAL_NAMES *names, int index) {
    return sk_GENERAL_NAME_value(names, index);
}

/* XN_FLAG_RFC2253 combines casts and shifts Swift does not import. */
static inline unsigned long causeway_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }

static inline void causeway_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }
