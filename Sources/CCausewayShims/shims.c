#define _GNU_SOURCE
#include "CCausewayShims.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <pthread.h>
#include <malloc.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

const uint32_t causeway_EPOLLIN = EPOLLIN;
const uint32_t causeway_EPOLLOUT = EPOLLOUT;
const uint32_t causeway_EPOLLERR = EPOLLERR;
const uint32_t causeway_EPOLLHUP = EPOLLHUP;
const uint32_t causeway_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t causeway_EPOLLET = EPOLLET;
const int causeway_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int causeway_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
const int causeway_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

int causeway_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int causeway_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int causeway_epoll_wait(int epfd, struct causeway_epoll_event *events, int max, int timeout_ms) {
    /* struct epoll_event is packed on x86_64; copy into the unpacked Swift-visible layout. */
    struct epoll_event raw[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, raw, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i].events = raw[i].events;
        events[i].data = raw[i].data.u64;
    }
    return n;
}

int causeway_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int causeway_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int causeway_timerfd_arm(int fd, uint64_t deadline_ns) {
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    if (deadline_ns != 0) {
        spec.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ull);
        spec.it_value.tv_nsec = (long)(deadline_ns % 1000000000ull);
    }
    return timerfd_settime(fd, deadline_ns != 0 ? TFD_TIMER_ABSTIME : 0, &spec, NULL);
}

int causeway_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int causeway_socket_nonblocking(int domain, int type) {
    return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int causeway_accept_nonblocking(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

uint64_t causeway_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int causeway_errno(void) { return errno; }

void causeway_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }

void causeway_tune_malloc(int trim_threshold, int mmap_threshold) {
    mallopt(M_TRIM_THRESHOLD, trim_threshold);
    mallopt(M_MMAP_THRESHOLD, mmap_threshold);
}

int causeway_socket_unacked_bytes(int fd) {
    int value = 0;
    if (ioctl(fd, SIOCOUTQ, &value) != 0) return -1;
    return value;
}
