extension Virtqueue {
    /// Pops available chains, hands each to `handle` (which returns the used length),
    /// returns it, and answers whether the driver wants an interrupt.
    ///
    /// Kicks are turned off while we work and back on before we stop, re-checking for
    /// chains that raced in (virtio 1.2 section 2.7.10; the pattern in
    /// Virtqueue+Notification.swift), so a busy driver costs no VM exit per request.
    ///
    /// One pass pops at most `size` chains: everything an honest driver can have
    /// published at one kick. A driver that keeps refilling the ring while we work (or a
    /// hostile one whose used ring overlays its avail index, so our own used writes
    /// publish "new" chains) would otherwise hold the device thread for as long as it
    /// likes. A pass that stops on the budget with chains left sets `serviceUnfinished`,
    /// and the device is kicked again from the event loop after others had their turn.
    func serviceAvailable(
        _ handle: (DescriptorChain) throws(VirtqueueError) -> UInt32
    ) throws(VirtqueueError) -> Bool {
        var budget = Int(size)
        serviceUnfinished = false
        while true {
            try disableNotifications()
            while budget > 0, let chain = try popChain() {
                budget -= 1
                try addUsed(chain, writtenLength: try handle(chain))
            }
            guard try enableNotifications() else { break }
            if budget == 0 {
                serviceUnfinished = true
                break
            }
        }
        return try needsNotification()
    }
}
