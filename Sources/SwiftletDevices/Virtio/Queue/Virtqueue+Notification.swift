import Synchronization
import SwiftletMemory

/// Notification suppression in both directions (virtio 1.2 section 2.7.10).
///
/// Device → driver (interrupts): after adding used buffers, ask `needsNotification()`.
/// Driver → device (kicks): a device loop that polls can turn kicks off while it works:
///
///     while true {
///         queue.disableNotifications()
///         while let chain = try queue.popChain() { ... }
///         if try !queue.enableNotifications() { break }   // nothing raced in: sleep
///     }
extension Virtqueue {
    /// vring_need_event from the spec (2.7.10.2): whether moving the used idx from `old`
    /// to `new` passed `event`, the index after which the driver wants an interrupt. All
    /// arithmetic is mod 2^16, so it stays right when the indices wrap.
    public static func needsEvent(event: UInt16, new: UInt16, old: UInt16) -> Bool {
        (new &- event &- 1) < (new &- old)
    }

    /// Whether the driver wants an interrupt for the buffers used since the last call.
    /// Call after one or more `addUsed`; false when nothing was used since then.
    public func needsNotification() throws(VirtqueueError) -> Bool {
        // The used idx store must be visible before we read the driver's suppression
        // field, or we could miss a driver that just re-enabled interrupts: a full fence
        // (store → load), as Linux's virtio_mb in the same place.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let old = signalledUsedIndex
        let new = nextUsedIndex
        signalledUsedIndex = new
        if configuration.eventIndex {
            let usedEvent = try readU16(configuration.availRing, VirtqueueLayout.usedEventOffset(size: size))
            return Self.needsEvent(event: usedEvent, new: new, old: old)
        }
        guard new != old else { return false }
        let flags = try readU16(configuration.availRing, VirtqueueLayout.availFlagsOffset)
        return flags & VirtqueueLayout.availNoInterrupt == 0
    }

    /// Asks the driver not to kick us. Only a hint: a kick may still arrive.
    /// With EVENT_IDX this just stops moving avail_event forward, so at most one more kick
    /// comes; without it, sets VIRTQ_USED_F_NO_NOTIFY.
    public func disableNotifications() throws(VirtqueueError) {
        notificationsEnabled = false
        if !configuration.eventIndex {
            try writeU16(VirtqueueLayout.usedNoNotify, configuration.usedRing, VirtqueueLayout.usedFlagsOffset)
        }
    }

    /// Asks the driver to kick us for the next chain again, and returns true if chains
    /// arrived while kicks were off: those will bring no kick, so the caller must pop them.
    public func enableNotifications() throws(VirtqueueError) -> Bool {
        notificationsEnabled = true
        if configuration.eventIndex {
            try writeAvailEvent()
        } else {
            try writeU16(0, configuration.usedRing, VirtqueueLayout.usedFlagsOffset)
        }
        // Our store must be visible before we re-read the avail idx (store → load), or a
        // driver that published just before seeing it would never kick.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        return try availableCount() > 0
    }

    /// avail_event = the avail idx whose publication should kick us: the next one we pop.
    func writeAvailEvent() throws(VirtqueueError) {
        try writeU16(nextAvailIndex, configuration.usedRing, VirtqueueLayout.availEventOffset(size: size))
    }
}
