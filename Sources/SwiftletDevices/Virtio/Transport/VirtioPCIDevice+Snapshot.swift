/// A virtio PCI function as a snapshot keeps it: configuration space (BAR addresses,
/// command, MSI-X control), the MSI-X table and PBA, and the transport's registers and
/// queue positions.
public struct VirtioPCIState: Sendable, Equatable {
    public var configuration: [UInt8]
    public var msix: MSIXState
    public var transport: VirtioTransportState

    public init(configuration: [UInt8], msix: MSIXState, transport: VirtioTransportState) {
        self.configuration = configuration
        self.msix = msix
        self.transport = transport
    }
}

extension VirtioPCIDevice {
    /// Only on a paused VM (see `VirtioTransportCore.saveState`).
    public func saveState() -> VirtioPCIState {
        VirtioPCIState(
            configuration: configuration.snapshotBytes, msix: msix.snapshotState, transport: core.saveState())
    }

    /// On a freshly built device, before any vCPU runs: config space, then MSI-X (whose
    /// routes the machine reinstalls as it hears of each vector), then the transport,
    /// which restarts a running device on its saved queues. The caller then has the bus
    /// map the BARs at their restored addresses (`PCIBus.remapAfterRestore`).
    public func restoreState(_ saved: VirtioPCIState) throws(VirtioTransportError) {
        do {
            let restored = try config.withLock { c throws(PCIConfigurationError) -> PCIConfigurationSpace in
                try c.restore(snapshotBytes: saved.configuration)
                return c
            }
            try msix.restore(saved.msix, configuration: restored)
        } catch {
            throw .configuration(error)
        }
        try core.restoreState(saved.transport)
    }
}

extension VirtioPCIDevice {
    /// See `VirtioTransportCore.kickQueuesAfterRestore`.
    public func kickQueuesAfterRestore() { core.kickQueuesAfterRestore() }
}
