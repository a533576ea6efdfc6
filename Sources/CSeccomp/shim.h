#include <seccomp.h>
#include <linux/kvm.h>
#include <sys/mman.h>
#include <linux/sched.h>
// CLONE_THREAD for Swift (sched.h declares it only under _GNU_SOURCE).
static const unsigned long long CSECCOMP_CLONE_THREAD = CLONE_THREAD;
#include <errno.h>

// Swift cannot call the variadic seccomp_rule_add: these take at most one comparison.
static inline int cseccomp_allow(scmp_filter_ctx ctx, int syscall) {
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, syscall, 0);
}
// Allowed when (argument `index` & mask) == value.
static inline int cseccomp_allow_masked(scmp_filter_ctx ctx, int syscall, unsigned int index,
                                        unsigned long long mask, unsigned long long value) {
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, syscall, 1, SCMP_CMP(index, SCMP_CMP_MASKED_EQ, mask, value));
}
// Allowed when argument `index` == value.
static inline int cseccomp_allow_equal(scmp_filter_ctx ctx, int syscall, unsigned int index, unsigned long long value) {
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, syscall, 1, SCMP_CMP(index, SCMP_CMP_EQ, value));
}
// Fails with `error` instead of running.
static inline int cseccomp_fail(scmp_filter_ctx ctx, int syscall, int error) {
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(error), syscall, 0);
}
static inline unsigned int cseccomp_trap(void) { return SCMP_ACT_TRAP; }
