// The SIGSYS handler for seccomp's traps: C, because it must be async-signal-safe and
// know which thread it runs on (a thread-local name) before anything else.
#include "csystem.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const char *const kinds[] = {"unfiltered", "vCPU", "device"};
static __thread const char *thread_kind = "unfiltered";

void csystem_set_thread_kind(int kind) {
    if (kind >= 0 && kind < (int)(sizeof kinds / sizeof kinds[0])) thread_kind = kinds[kind];
}

static void append(char *line, size_t *length, size_t capacity, const char *text) {
    while (*text && *length + 1 < capacity) line[(*length)++] = *text++;
}

static void on_forbidden_call(int signal, siginfo_t *info, void *context) {
    (void)context;
    char line[160];
    size_t length = 0;
    char digits[12];
    int number = info->si_syscall, count = 0;
    if (number < 0) number = 0;
    do { digits[count++] = (char)('0' + number % 10); number /= 10; } while (number && count < 11);
    char reversed[12];
    for (int i = 0; i < count; i++) reversed[i] = digits[count - 1 - i];
    reversed[count] = 0;
    append(line, &length, sizeof line, "swiftlet: seccomp: the ");
    append(line, &length, sizeof line, thread_kind);
    append(line, &length, sizeof line, " thread made system call ");
    append(line, &length, sizeof line, reversed);
    append(line, &length, sizeof line, ", which its filter forbids; ending\n");
    ssize_t ignored = write(STDERR_FILENO, line, length);
    (void)ignored;
    // SA_RESETHAND made SIGSYS default again, SA_NODEFER left it unblocked: this ends
    // the process with SIGSYS, as an untrapped violation would.
    raise(signal);
}

int csystem_install_sigsys_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_forbidden_call;
    action.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGSYS, &action, 0);
}
