import Synchronization
import SwiftletDevices
import SwiftletHost
import SwiftletKVM

/// The doorbells of one virtio-pci device: an ioeventfd per queue at its notify address,
/// served on the event loop. A guest kick costs the vCPU one trip into KVM, never a trip
/// to us, and the device does its work on the loop's thread.
final class VirtioNotifiers: Sendable {
    private let vm: VirtualMachine
    private let events: [EventFD]
    /// Where BAR0 is mapped now (nil: unmapped), i.e. where the ioeventfds are registered.
    private let bar0 = Mutex<UInt64?>(nil)

    init(transport: VirtioPCIDevice, queueCount: Int, vm: VirtualMachine, loop: EventLoop) throws {
        self.vm = vm
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

    /// Moves the doorbells to BAR0 at `address` (nil: the guest unmapped it; kicks then
    /// reach the transport through ordinary MMIO exits, or nowhere).
    func place(bar0 address: UInt64?) throws(KVMError) {
        let old = bar0.withLock { current -> UInt64? in
            defer { current = address }
            return current
        }
        if let old {
            for (index, event) in events.enumerated() {
                try vm.unregisterIOEvent(event, mmioAddress: old + VirtioPCILayout.notifyAddressOffset(queue: index))
            }
        }
        if let address {
            for (index, event) in events.enumerated() {
                try vm.registerIOEvent(event, mmioAddress: address + VirtioPCILayout.notifyAddressOffset(queue: index))
            }
        }
    }
}
