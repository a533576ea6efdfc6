import Synchronization
import SwiftletDevices
import SwiftletHost
import SwiftletKVM

/// The doorbells of one virtio device: an ioeventfd per queue at its notify register,
/// served on the event loop. A guest kick costs the vCPU one trip into KVM, never a trip
/// to us, and the device does its work on the loop's thread.
final class VirtioNotifiers: Sendable {
    /// Where queue n's kick lands, from the start of the transport's window: its own
    /// register (virtio-pci), or a register shared by all, told apart by the value written
    /// (virtio-mmio's QueueNotify, a 4-byte write of the index).
    struct Register: Sendable {
        let offset: UInt64
        let length: UInt32
        let datamatch: UInt64?

        static func pci(queue: Int) -> Register {
            Register(offset: VirtioPCILayout.notifyAddressOffset(queue: queue), length: 0, datamatch: nil)
        }

        static func mmio(queue: Int) -> Register {
            Register(offset: VirtioMMIOLayout.queueNotify, length: 4, datamatch: UInt64(queue))
        }
    }

    private let vm: VirtualMachine
    private let events: [EventFD]
    private let register: @Sendable (Int) -> Register
    /// Where the window is now (nil: unmapped), i.e. where the ioeventfds are registered.
    private let base = Mutex<UInt64?>(nil)

    init(transport: any VirtioTransport, queueCount: Int, vm: VirtualMachine, loop: EventLoop,
         register: @escaping @Sendable (Int) -> Register = Register.pci) throws {
        self.vm = vm
        self.register = register
        let events = try (0..<queueCount).map { _ in try EventFD() }
        self.events = events
        // Kicks from the host side (work left past a budget, seen on a vCPU thread) go
        // through the same ioeventfds, so the device is served on the loop as for the
        // guest's own kicks.
        transport.setDoorbell { index in
            if events.indices.contains(index) { events[index].signal() }
        }
        for (index, event) in events.enumerated() {
            try loop.add(event.descriptor) {
                event.drain()
                // Work left past the device's per-kick budget: ring our own doorbell, so
                // the loop serves the other descriptors that are ready, then us again.
                if transport.queueNotified(index) { event.signal() }
            }
        }
    }

    /// Moves the doorbells to a window at `address` (nil: the guest unmapped a BAR; kicks
    /// then reach the transport through ordinary MMIO exits, or nowhere).
    func place(at address: UInt64?) throws(KVMError) {
        let old = base.withLock { current -> UInt64? in
            defer { current = address }
            return current
        }
        if let old {
            for (index, event) in events.enumerated() {
                let r = register(index)
                try vm.unregisterIOEvent(event, mmioAddress: old + r.offset, length: r.length, datamatch: r.datamatch)
            }
        }
        if let address {
            for (index, event) in events.enumerated() {
                let r = register(index)
                try vm.registerIOEvent(event, mmioAddress: address + r.offset, length: r.length, datamatch: r.datamatch)
            }
        }
    }
}
