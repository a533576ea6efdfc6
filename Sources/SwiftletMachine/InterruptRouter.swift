import Synchronization
import SwiftletHost
import SwiftletDevices
import SwiftletKVM

/// Owns KVM's interrupt routing table for one VM: the PC's legacy pins, plus one MSI
/// route per device vector, each fed by an irqfd.
///
/// KVM_SET_GSI_ROUTING replaces the whole table, so every change rebuilds it from here.
final class InterruptRouter: Sendable {
    /// GSIs below this are the IOAPIC's pins; MSI routes are numbered from here.
    static let firstMSIGSI: UInt32 = 24

    private let vm: VirtualMachine
    private let msiRoutes = Mutex<[UInt32: (address: UInt64, data: UInt32)]>([:])
    private let nextGSI = Mutex<UInt32>(InterruptRouter.firstMSIGSI)

    init(vm: VirtualMachine) { self.vm = vm }

    /// A new GSI with an irqfd attached: signal the eventfd to raise whatever MSI the GSI
    /// is routed to.
    func allocateMSI() throws -> (gsi: UInt32, irqfd: EventFD) {
        let gsi = nextGSI.withLock { next in
            defer { next += 1 }
            return next
        }
        let event = try EventFD()
        // Route it somewhere harmless first: KVM wants a route before the irqfd fires,
        // and the device cannot fire it before the guest programs (and unmasks) the vector.
        try route(gsi: gsi, address: 0xFEE0_0000, data: 0)
        try vm.registerIRQFD(event, gsi: gsi)
        return (gsi, event)
    }

    /// Points `gsi` at the MSI message (address, data) and reloads the table.
    ///
    /// The table is installed under the lock that built it: two vCPUs programming vectors
    /// at once would otherwise each build a table with its own change, and the one
    /// installed last would silently drop the other's route.
    func route(gsi: UInt32, address: UInt64, data: UInt32) throws(KVMError) {
        try msiRoutes.withLock { (routes) throws(KVMError) in
            routes[gsi] = (address, data)
            let table = GSIRoute.legacyPC + routes.keys.sorted().compactMap { key in
                routes[key].map { GSIRoute.msi(gsi: key, address: $0.address, data: $0.data) }
            }
            try vm.setGSIRouting(table)
        }
    }
}

/// One PCI device's MSI-X vectors, as irqfds on KVM routes. The transport calls
/// `vectorChanged` when the guest programs a vector and `signal` when a device interrupts
/// (masking and pending bits stay in the transport).
final class KVMMSIVectors: MSIDelivery {
    private let router: InterruptRouter
    private let vectors: [(gsi: UInt32, irqfd: EventFD)]
    private let onError: @Sendable (String) -> Void

    init(router: InterruptRouter, count: Int, onError: @escaping @Sendable (String) -> Void) throws {
        self.router = router
        self.vectors = try (0..<count).map { _ in try router.allocateMSI() }
        self.onError = onError
    }

    func vectorChanged(vector: Int, address: UInt64, data: UInt32, masked: Bool) {
        guard vectors.indices.contains(vector) else { return }
        do { try router.route(gsi: vectors[vector].gsi, address: address, data: data) } catch {
            onError(error.description)
        }
    }

    func signal(vector: Int, address: UInt64, data: UInt32) {
        guard vectors.indices.contains(vector) else { return }
        vectors[vector].irqfd.signal()
    }
}
