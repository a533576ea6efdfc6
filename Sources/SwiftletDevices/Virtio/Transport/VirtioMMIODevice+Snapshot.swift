extension VirtioMMIODevice {
    /// virtio-mmio keeps nothing beyond the shared registers: its window and IRQ are fixed
    /// by the machine's layout. Only on a paused VM (see `VirtioTransportCore.saveState`).
    public func saveState() -> VirtioTransportState { core.saveState() }

    /// On a freshly built device, before any vCPU runs.
    public func restoreState(_ saved: VirtioTransportState) throws(VirtioTransportError) {
        try core.restoreState(saved)
    }

    /// See `VirtioTransportCore.kickQueuesAfterRestore`.
    public func kickQueuesAfterRestore() { core.kickQueuesAfterRestore() }
}
