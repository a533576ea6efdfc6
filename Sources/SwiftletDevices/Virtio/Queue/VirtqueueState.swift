import SwiftletMemory

/// Everything a snapshot needs to put a virtqueue back where it was: the ring addresses
/// and negotiated ring features (the configuration), and the device's private indices,
/// which live nowhere in guest memory.
///
/// The driver's own indices (avail idx, used_event) are in guest RAM and come back with
/// the memory file; only the device-side copies are here.
public struct VirtqueueState: Sendable, Equatable {
    public var configuration: VirtqueueConfiguration
    /// The avail ring index of the next chain to pop.
    public var nextAvailIndex: UInt16
    /// The used ring index we publish next.
    public var nextUsedIndex: UInt16
    /// EVENT_IDX's "old" used index at the last notification decision: without it, the
    /// first notification after a restore could be wrongly suppressed.
    public var signalledUsedIndex: UInt16
    /// Whether the device had asked for kicks (it may have been mid-batch with them off).
    public var notificationsEnabled: Bool

    public init(
        configuration: VirtqueueConfiguration, nextAvailIndex: UInt16, nextUsedIndex: UInt16,
        signalledUsedIndex: UInt16, notificationsEnabled: Bool
    ) {
        self.configuration = configuration
        self.nextAvailIndex = nextAvailIndex
        self.nextUsedIndex = nextUsedIndex
        self.signalledUsedIndex = signalledUsedIndex
        self.notificationsEnabled = notificationsEnabled
    }
}

extension Virtqueue {
    /// The queue's position, taken while its device thread is parked (a paused VM): the
    /// device serves requests synchronously on that thread, so no chain is half-served.
    public var state: VirtqueueState {
        VirtqueueState(
            configuration: configuration, nextAvailIndex: nextAvailIndex, nextUsedIndex: nextUsedIndex,
            signalledUsedIndex: signalledUsedIndex, notificationsEnabled: notificationsEnabled)
    }

    /// A queue restored from a snapshot. The configuration is checked against `memory`
    /// exactly as a driver's would be: a state file is input, not trusted.
    public convenience init(memory: GuestMemory, state: VirtqueueState) throws(VirtqueueError) {
        try self.init(
            memory: memory, configuration: state.configuration,
            nextAvailIndex: state.nextAvailIndex, nextUsedIndex: state.nextUsedIndex)
        signalledUsedIndex = state.signalledUsedIndex
        notificationsEnabled = state.notificationsEnabled
    }
}
