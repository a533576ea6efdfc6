// CSystem: Linux headers that Swift's Glibc module leaves out (epoll, eventfd).
// Declarations only; the Swift side (SwiftletHost) wraps each call.
#ifndef CSYSTEM_H
#define CSYSTEM_H

#include <sys/epoll.h>
#include <sys/eventfd.h>

#endif
