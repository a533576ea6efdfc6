#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// An eventfd: a counter in the kernel that one side bumps and the other waits on.
///
/// KVM speaks eventfd both ways: an ioeventfd is bumped when the guest writes a
/// device's notify register (no exit to us on the vCPU thread), and an irqfd raises a
/// guest interrupt when we bump it. The event loop waits on them with epoll.
public final class EventFD: Sendable {
    public let descriptor: Int32

    public init() throws(HostError) {
        let fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard fd >= 0 else { throw HostError("eventfd") }
        descriptor = fd
    }

    deinit { close(descriptor) }

    /// Adds one to the counter, waking a waiter.
    public func signal() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, 8)
    }

    /// Takes the counter: how many signals arrived since the last drain (0 if none).
    @discardableResult
    public func drain() -> UInt64 {
        var count: UInt64 = 0
        return read(descriptor, &count, 8) == 8 ? count : 0
    }
}
