/// The `VirtioInterrupt` handed to a device at activation: routes to the transport while
/// the activation lasts, and goes quiet once the device is reset (its epoch is stale).
final class VirtioPCIInterrupt: VirtioInterrupt {
    private weak let transport: VirtioPCIDevice?
    private let epoch: UInt64

    init(transport: VirtioPCIDevice, epoch: UInt64) {
        self.transport = transport
        self.epoch = epoch
    }

    func signalUsed(queue: Int) { transport?.signalUsed(queue: queue, epoch: epoch) }
    func signalConfigChange() { transport?.signalConfigChange(epoch: epoch) }
    func signalNeedsReset() { transport?.signalNeedsReset(epoch: epoch) }
}
