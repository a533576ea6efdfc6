/// What the machine needs of any virtio transport (PCI or MMIO) to serve kicks on its
/// event loop: a doorbell to ring itself and a way to hand on kicks its ioeventfds caught.
public protocol VirtioTransport: AnyObject, Sendable {
    /// `ring(n)` kicks queue n from the host side, later, on the device's event loop.
    func setDoorbell(_ ring: @escaping @Sendable (Int) -> Void)
    /// The guest kicked queue `index`; true when the device has work left past its budget.
    @discardableResult
    func queueNotified(_ index: Int) -> Bool
}

extension VirtioPCIDevice: VirtioTransport {}
extension VirtioMMIODevice: VirtioTransport {}
