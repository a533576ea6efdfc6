extension VirtioTransportCore {
    /// The registers and queue positions. The VM must be paused: the device thread is
    /// parked and every request is served synchronously on it, so no chain is half-done
    /// and the queues' indices are final; vCPUs are out of KVM_RUN, so no register write
    /// races this read.
    func saveState() -> VirtioTransportState {
        let s = state.withLock { s in (common: s.common, isr: s.isr, live: s.live) }
        let positions = s.live ? activeQueues.withLock { $0.map { $0?.state } } : []
        return VirtioTransportState(
            status: s.common.status, deviceFeatureSelect: s.common.deviceFeatureSelect,
            driverFeatureSelect: s.common.driverFeatureSelect, driverFeatures: s.common.driverFeatures,
            configMSIXVector: s.common.configMSIXVector, configGeneration: s.common.configGeneration,
            queueSelect: s.common.queueSelect,
            queues: s.common.queues.map {
                .init(
                    size: $0.size, msixVector: $0.msixVector, enabled: $0.enabled, descriptorTable: $0.descriptorTable,
                    driverArea: $0.driverArea, deviceArea: $0.deviceArea)
            },
            interruptStatus: s.isr, live: s.live, queuePositions: positions)
    }

    /// Puts a freshly built transport back in `saved`'s state and, if the device was
    /// running, starts it with its queues at their saved positions. The state file is
    /// input: every value is checked as a driver's write would be, and what cannot fit
    /// this device throws rather than run it half-restored.
    func restoreState(_ saved: VirtioTransportState) throws(VirtioTransportError) {
        var common = state.withLock { $0.common }
        guard saved.queues.count == common.queues.count else {
            throw .stateMismatch("\(saved.queues.count) queues saved, the device has \(common.queues.count)")
        }
        guard saved.driverFeatures & ~common.offeredFeatures == 0 else {
            throw .stateMismatch("features \(saved.driverFeatures) were never offered")
        }
        for (index, queue) in saved.queues.enumerated() {
            let max = common.queues[index].maxSize
            guard queue.size > 0, queue.size <= max, queue.size & (queue.size - 1) == 0 else {
                throw .queueSizeInvalid(queue: index, size: queue.size, max: max)
            }
            common.queues[index].size = queue.size
            common.queues[index].msixVector = queue.msixVector
            common.queues[index].enabled = queue.enabled
            common.queues[index].descriptorTable = queue.descriptorTable
            common.queues[index].driverArea = queue.driverArea
            common.queues[index].deviceArea = queue.deviceArea
        }
        common.status = saved.status
        common.deviceFeatureSelect = saved.deviceFeatureSelect
        common.driverFeatureSelect = saved.driverFeatureSelect
        common.driverFeatures = saved.driverFeatures
        common.configMSIXVector = saved.configMSIXVector
        common.configGeneration = saved.configGeneration
        common.queueSelect = saved.queueSelect
        guard !saved.live || saved.queuePositions.count == common.queues.count else {
            throw .stateMismatch("\(saved.queuePositions.count) queue positions for \(common.queues.count) queues")
        }
        let restored = common
        state.withLock { s in
            s.common = restored
            s.isr = saved.interruptStatus
            s.live = false
        }
        // A level-triggered line (INTx, mmio's) pending at the snapshot is raised again:
        // the line's level is not in the interrupt controller's saved state.
        if saved.interruptStatus != 0 { route.line(true) }
        if saved.live {
            activate(restoring: saved.queuePositions)
            if let error = lastError { throw error }
        }
    }
}

extension VirtioTransportCore {
    /// After a restore, once the machine is wired: kicks every enabled queue of a live
    /// device once. A kick the guest wrote just before the snapshot may have been caught
    /// by an ioeventfd the old process never read, and the driver will not repeat it.
    func kickQueuesAfterRestore() {
        let count = state.withLock { s in s.live ? s.common.queues.count : 0 }
        for index in 0..<count { notify(queue: index) }
    }
}
