/// Where a device's MSI-X messages go: the machine's side of MSI-X, one per device.
///
/// The machine implements it against KVM: `signal` becomes an irqfd write or
/// KVM_SIGNAL_MSI, and `vectorChanged` keeps the vector's GSI route (KVM_SET_GSI_ROUTING)
/// current. Both may be called from any thread, never with a device lock held.
public protocol MSIDelivery: AnyObject, Sendable {
    /// Vector `vector`'s message or its effective mask changed. `masked` is true when
    /// MSI-X is disabled, the function is masked or the vector is masked: then nothing
    /// may be delivered for it (messages pend inside the device instead).
    func vectorChanged(vector: Int, address: UInt64, data: UInt32, masked: Bool)
    /// Deliver vector `vector` now: it is enabled and unmasked, and this is its message.
    func signal(vector: Int, address: UInt64, data: UInt32)
}
