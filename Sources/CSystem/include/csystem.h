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

// close_range(2) (Linux 5.9), setgroups and prctl: declared only under _GNU_SOURCE or
// variadic, so Swift sees neither. The raw system call, so an older glibc serves too;
// each returns 0 or -1 with errno, as the call does.
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <grp.h>
static inline int csystem_close_range(unsigned int first, unsigned int last) {
    return (int)syscall(SYS_close_range, first, last, 0);
}
static inline int csystem_clear_supplementary_groups(void) {
    return setgroups(0, 0);
}
static inline int csystem_set_no_new_privileges(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

// setrlimit's resource argument is an enum under _GNU_SOURCE and an int otherwise; these
// take an int either way. The limit is set soft and hard alike, never raised above the
// hard limit we were given; returns 0 or -1 with errno.
#include <sys/resource.h>
static const int CSYSTEM_RLIMIT_CORE = RLIMIT_CORE;
static const int CSYSTEM_RLIMIT_NOFILE = RLIMIT_NOFILE;
static inline int csystem_lower_limit(int resource, unsigned long long value) {
    struct rlimit limit;
    if (getrlimit(resource, &limit) != 0) return -1;
    if (limit.rlim_max != RLIM_INFINITY && value > limit.rlim_max) value = limit.rlim_max;
    limit.rlim_cur = value;
    limit.rlim_max = value;
    return setrlimit(resource, &limit);
}
static inline unsigned long long csystem_soft_limit(int resource) {
    struct rlimit limit;
    if (getrlimit(resource, &limit) != 0) return 1024;
    return limit.rlim_cur;
}

// seccomp's SIGSYS: one line naming the thread and the call, then death by SIGSYS
// (csystem.c). The kind names the calling thread: 1 vCPU, 2 device.
void csystem_set_thread_kind(int kind);
int csystem_install_sigsys_handler(void);

#endif
