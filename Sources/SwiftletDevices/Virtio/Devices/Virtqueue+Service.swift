extension Virtqueue {
    /// Pops every available chain, hands it to `handle` (which returns the used length),
    /// returns it, and answers whether the driver wants an interrupt.
    ///
    /// Kicks are turned off while we work and back on before we stop, re-checking for
    /// chains that raced in (virtio 1.2 section 2.7.10; the pattern in
    /// Virtqueue+Notification.swift), so a busy driver costs no VM exit per request.
    func serviceAvailable(
        _ handle: (DescriptorChain) throws(VirtqueueError) -> UInt32
    ) throws(VirtqueueError) -> Bool {
        repeat {
            try disableNotifications()
            while let chain = try popChain() {
                try addUsed(chain, writtenLength: try handle(chain))
            }
        } while try enableNotifications()
        return try needsNotification()
    }
}
