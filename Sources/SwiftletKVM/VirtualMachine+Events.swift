import CKVM
import SwiftletHost

/// Where an interrupt route leads: a pin of the in-kernel PIC/IOAPIC, or an MSI message.
public enum GSIRoute: Equatable, Sendable {
    /// chip 0 = master PIC, 1 = slave PIC, 2 = IOAPIC.
    case irqchip(gsi: UInt32, chip: UInt32, pin: UInt32)
    case msi(gsi: UInt32, address: UInt64, data: UInt32)

    /// KVM's default table for a PC: GSI 0-15 to the PICs and the IOAPIC, 16-23 to the
    /// IOAPIC alone. KVM_SET_GSI_ROUTING replaces the whole table, so every table we set
    /// starts with these, or the legacy devices' interrupts would vanish.
    public static let legacyPC: [GSIRoute] = (UInt32(0)..<24).flatMap { gsi -> [GSIRoute] in
        var routes: [GSIRoute] = []
        if gsi < 16 { routes.append(.irqchip(gsi: gsi, chip: gsi < 8 ? 0 : 1, pin: gsi % 8)) }
        routes.append(.irqchip(gsi: gsi, chip: 2, pin: gsi))
        return routes
    }
}

extension VirtualMachine {
    /// Makes a guest write to MMIO `address` signal `event` inside KVM, without an exit to
    /// us: the vCPU goes straight back to the guest and the event loop does the work.
    /// With `datamatch`, only a write of exactly `length` bytes (1, 2, 4 or 8) carrying
    /// that value does, so several eventfds can share one register (virtio-mmio's
    /// QueueNotify, where the value is the queue's index); other writes exit as usual.
    public func registerIOEvent(
        _ event: EventFD, mmioAddress address: UInt64, length: UInt32 = 0, datamatch: UInt64? = nil
    ) throws(KVMError) {
        var request = Self.ioEventRequest(event, address: address, length: length, datamatch: datamatch)
        try fd.ioctl(CKVM_IOEVENTFD, &request, "register an I/O eventfd at 0x\(String(address, radix: 16))")
    }

    /// Undoes `registerIOEvent` (a BAR moved, or the device was reset): the same address,
    /// length and datamatch name the registration.
    public func unregisterIOEvent(
        _ event: EventFD, mmioAddress address: UInt64, length: UInt32 = 0, datamatch: UInt64? = nil
    ) throws(KVMError) {
        var request = Self.ioEventRequest(event, address: address, length: length, datamatch: datamatch)
        request.flags |= CKVM_IOEVENTFD_FLAG_DEASSIGN
        try fd.ioctl(CKVM_IOEVENTFD, &request, "unregister an I/O eventfd at 0x\(String(address, radix: 16))")
    }

    private static func ioEventRequest(
        _ event: EventFD, address: UInt64, length: UInt32, datamatch: UInt64?
    ) -> kvm_ioeventfd {
        var request = kvm_ioeventfd()
        request.addr = address
        request.len = length
        request.fd = event.descriptor
        if let datamatch {
            request.datamatch = datamatch
            request.flags = CKVM_IOEVENTFD_FLAG_DATAMATCH
        }
        return request
    }

    /// Makes a signal on `event` raise interrupt `gsi` (as routed by `setGSIRouting`).
    public func registerIRQFD(_ event: EventFD, gsi: UInt32) throws(KVMError) {
        var request = kvm_irqfd()
        request.fd = UInt32(bitPattern: event.descriptor)
        request.gsi = gsi
        try fd.ioctl(CKVM_IRQFD, &request, "attach an interrupt eventfd to GSI \(gsi)")
    }

    /// Replaces KVM's whole interrupt routing table with `routes`.
    public func setGSIRouting(_ routes: [GSIRoute]) throws(KVMError) {
        let header = MemoryLayout<kvm_irq_routing>.size, stride = MemoryLayout<kvm_irq_routing_entry>.stride
        let size = header + routes.count * stride
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        buffer.storeBytes(of: UInt32(routes.count), as: UInt32.self)
        for (i, route) in routes.enumerated() {
            var entry = kvm_irq_routing_entry()
            switch route {
            case .irqchip(let gsi, let chip, let pin):
                entry.gsi = gsi
                entry.type = UInt32(KVM_IRQ_ROUTING_IRQCHIP)
                entry.u.irqchip.irqchip = chip
                entry.u.irqchip.pin = pin
            case .msi(let gsi, let address, let data):
                entry.gsi = gsi
                entry.type = UInt32(KVM_IRQ_ROUTING_MSI)
                entry.u.msi.address_lo = UInt32(truncatingIfNeeded: address)
                entry.u.msi.address_hi = UInt32(truncatingIfNeeded: address >> 32)
                entry.u.msi.data = data
            }
            (buffer + header + i * stride).storeBytes(of: entry, as: kvm_irq_routing_entry.self)
        }
        try fd.ioctl(CKVM_SET_GSI_ROUTING, buffer, "set the interrupt routing table")
    }
}
