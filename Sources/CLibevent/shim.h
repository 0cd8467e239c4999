// The C surface Sluice uses: libevent 2.1, libevent_openssl, OpenSSL 3, and a few glibc calls.
#ifndef SLUICE_CLIBEVENT_SHIM_H
#define SLUICE_CLIBEVENT_SHIM_H

// libc first: Debian's event2/event-config.h defines _GNU_SOURCE, and a glibc header seen first
// after it declares fd_set differently from SwiftGlibc (clean builds fail; see swift-libevent-traps.md).
#include <features.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/rand.h>
#include <openssl/evp.h>

// Macros and variadics the Clang importer cannot see, as functions.
static inline int sluice_wifexited(int status) { return WIFEXITED(status); }
static inline int sluice_wexitstatus(int status) { return WEXITSTATUS(status); }
static inline int sluice_wifsignaled(int status) { return WIFSIGNALED(status); }
static inline int sluice_wtermsig(int status) { return WTERMSIG(status); }
static inline int sluice_wcoredump(int status) { return WCOREDUMP(status); }
static inline int sluice_prctl_set_name(const char *name) { return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
static inline int sluice_prctl_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0); }
static inline int sluice_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    extern int accept4(int, struct sockaddr *, socklen_t *, int);
    return accept4(fd, addr, len, flags);
}
static inline long sluice_ssl_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)name);
}
static inline long sluice_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, version, NULL);
}

#endif
