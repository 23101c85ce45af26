#ifndef CCAUSEWAY_SHIMS_H
#define CCAUSEWAY_SHIMS_H

/*
 * Only what Swift cannot import directly: Linux-specific headers whose
 * constants are macros or enums Swift does not see, and variadic calls.
 * Every symbol is prefixed with `causeway_`.
 */
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct causeway_epoll_event {
    uint32_t events;
    uint64_t data;
};

extern const uint32_t causeway_EPOLLIN;
extern const uint32_t causeway_EPOLLOUT;
extern const uint32_t causeway_EPOLLERR;
extern const uint32_t causeway_EPOLLHUP;
extern const uint32_t causeway_EPOLLRDHUP;
extern const uint32_t causeway_EPOLLET;

int causeway_epoll_create(void);
int causeway_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* Fills `events` (an array of `max` entries); returns the count or -1 with errno. */
int causeway_epoll_wait(int epfd, struct causeway_epoll_event *events, int max, int timeout_ms);
extern const int causeway_EPOLL_CTL_ADD;
extern const int causeway_EPOLL_CTL_MOD;
extern const int causeway_EPOLL_CTL_DEL;

int causeway_eventfd(void);
int causeway_timerfd_create(void);
/* Arms the timerfd to fire once at `deadline_ns` on CLOCK_MONOTONIC; 0 disarms. */
int causeway_timerfd_arm(int fd, uint64_t deadline_ns);

/* fcntl is variadic in C, so Swift cannot call it. */
int causeway_set_nonblocking(int fd);
int causeway_socket_nonblocking(int domain, int type);
int causeway_accept_nonblocking(int fd);
uint64_t causeway_monotonic_ns(void);
int causeway_errno(void);
void causeway_set_thread_name(const char *name);
/* mallopt(M_TRIM_THRESHOLD) and mallopt(M_MMAP_THRESHOLD): malloc.h is not in Glibc's module. */
void causeway_tune_malloc(int trim_threshold, int mmap_threshold);
/* Bytes written to a TCP socket and not yet acknowledged by the peer (SIOCOUTQ); -1 on error. */
int causeway_socket_unacked_bytes(int fd);

#endif
