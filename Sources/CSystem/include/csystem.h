// CSystem: Linux headers that Swift's Glibc module leaves out (epoll, eventfd, tun/tap
// and interface ioctls). Declarations only; the Swift side wraps each call.
#ifndef CSYSTEM_H
#define CSYSTEM_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

// ioctl is variadic, which Swift cannot call: this fixes its third argument to a pointer.
static inline int csystem_ioctl(int fd, unsigned long request, void *arg) {
    return ioctl(fd, request, arg);
}

// accept4 is a GNU extension the Glibc module hides without _GNU_SOURCE: the new socket
// comes non-blocking and close-on-exec in one call.
#include <sys/socket.h>
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
static inline int csystem_accept_nonblocking(int fd) {
    return accept4(fd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

// The tun requests are _IOW() expressions, which Swift does not import: as constants.
static const unsigned long CSYSTEM_TUNSETIFF = TUNSETIFF;
static const unsigned long CSYSTEM_TUNSETOFFLOAD = TUNSETOFFLOAD;
static const unsigned long CSYSTEM_TUNSETVNETHDRSZ = TUNSETVNETHDRSZ;

#endif
