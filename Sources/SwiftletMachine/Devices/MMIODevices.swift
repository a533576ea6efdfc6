import Logging
import Synchronization
import SwiftletACPI
import SwiftletDevices
import SwiftletHost
import SwiftletKVM
import SwiftletMemory

/// The virtio-mmio side of one boot: each device gets a 0x200-byte register window in
/// the MMIO hole and an IOAPIC pin of its own, its kicks come through ioeventfds on
/// QueueNotify (one per queue, matched on the index written) and its interrupts leave
/// through an irqfd on the pin. The guest learns of them from the DSDT or, with
/// `acpi=off`, from its command line, never both; `MMIOSlots` says what each says, and
/// which pins the MP table lists.
final class MMIODevices: Sendable {
    private let slots = Mutex(MMIOSlots())
    /// Their doorbells and interrupt eventfds, kept for as long as the boot lasts.
    private let wiring = Mutex<[(VirtioNotifiers, EventFD)]>([])
    private let vm: VirtualMachine
    private let memory: GuestMemory
    private let mmio: Bus
    private let loop: EventLoop
    private let logger: Logger

    init(vm: VirtualMachine, memory: GuestMemory, mmio: Bus, loop: EventLoop, logger: Logger) {
        self.vm = vm
        self.memory = memory
        self.mmio = mmio
        self.loop = loop
        self.logger = logger
    }

    /// Puts `device` in the next window, on the next free pin.
    func add(_ device: any VirtioDevice, name: String) throws {
        let slot = try slots.withLock { (slots) throws(MMIODeviceError) in try slots.place(name) }
        let irqfd = try EventFD()
        try vm.registerIRQFD(irqfd, gsi: UInt32(slot.pin))
        let transport = try VirtioMMIODevice(device: device, memory: memory, interrupt: IRQFDLine(irqfd), name: name)
        let notifiers = try VirtioNotifiers(
            transport: transport, queueCount: device.queueMaxSizes.count, vm: vm, loop: loop, register: VirtioNotifiers.Register.mmio)
        try notifiers.place(at: slot.base)
        try mmio.insert(transport, at: slot.base, size: MMIOSlots.windowSize, name: name)
        wiring.withLock { $0.append((notifiers, irqfd)) }
        logger.debug("virtio-mmio \(name): virtio \(device.deviceType), \(device.queueMaxSizes.count) queues, registers at 0x\(String(slot.base, radix: 16)), IOAPIC pin \(slot.pin) (edge)")
    }

    /// Where the devices went, and what the firmware and command line say of them.
    var placed: MMIOSlots { slots.withLock { $0 } }
}

/// Where virtio-mmio devices go, in the order they are added: a window and an IOAPIC pin
/// each, and what the DSDT, the MP table and an `acpi=off` command line say of them.
struct MMIOSlots: Sendable {
    /// The first window: just past where PCI's ECAM would end with all 256 buses
    /// (0xE0000000 + 256 MiB), clear of PCI's BAR window (0xC0000000-0xDFFFFFFF), the
    /// IOAPIC (0xFEC00000), the local APIC (0xFEE00000) and KVM's TSS pages (0xFFFBC000).
    static let windowBase: UInt64 = 0xF000_0000
    /// One window per page: the register file is 0x200 bytes, as Linux maps it.
    static let stride: UInt64 = 0x1000
    static let windowSize: UInt64 = VirtioMMIOLayout.windowSize
    /// The IOAPIC pins devices may have, one each (edge-triggered lines cannot be shared).
    /// Not 0 (8259 ExtINT), 1 (i8042), 2 (timer), 3 (COM2's, probed by Linux's 8250
    /// driver), 4 (COM1), 8 (RTC), 9 (the SCI by convention), 12 (the i8042's mouse
    /// port, which Linux probes with `acpi=off`), 13 (the FPU's): 15 pins, enough for
    /// Kata's eight disks, net, vsock and rng plus the console.
    static let pins: [UInt8] = [5, 6, 7, 10, 11, 14, 15] + Array(16...23)
    static var limit: Int { pins.count }

    struct Slot: Sendable, Equatable {
        let name: String
        let base: UInt64
        let pin: UInt8
    }

    private(set) var slots: [Slot] = []

    /// The next window and pin, for the device called `name`.
    mutating func place(_ name: String) throws(MMIODeviceError) -> Slot {
        guard slots.count < Self.limit else { throw .tooManyDevices(name: name, limit: Self.limit) }
        let slot = Slot(name: name, base: Self.windowBase + UInt64(slots.count) * Self.stride, pin: Self.pins[slots.count])
        slots.append(slot)
        return slot
    }

    /// The pins in use, for the MP table.
    var interruptPins: [UInt8] { slots.map(\.pin) }

    /// One LNRO0005 device per window, for guests that read ACPI.
    var dsdtDevices: [AML] {
        slots.enumerated().map { index, slot in
            AMLDevices.virtioMMIO(index: index, base: UInt32(slot.base), size: UInt32(Self.windowSize), gsi: UInt32(slot.pin))
        }
    }

    /// `virtio_mmio.device=<size>@<base>:<irq>` words for an `acpi=off` guest (Linux's
    /// virtio_mmio cmdline_devices; the IRQ is the pin, as the MP table maps it).
    var kernelArguments: [String] {
        slots.map { "virtio_mmio.device=0x\(String(Self.windowSize, radix: 16))@0x\(String($0.base, radix: 16)):\($0.pin)" }
    }

    /// Whether the guest's command line turns ACPI off (the last `acpi=` wins, as in
    /// Linux), so that it must hear of the devices from `kernelArguments` (and must not,
    /// otherwise: Linux would then claim each window twice and fail the second time).
    static func guestIgnoresACPI(_ arguments: [String]) -> Bool {
        arguments.last { $0.hasPrefix("acpi=") } == "acpi=off"
    }
}

/// Why a virtio-mmio device could not be placed.
enum MMIODeviceError: Error, CustomStringConvertible {
    case tooManyDevices(name: String, limit: Int)

    var description: String {
        switch self {
        case .tooManyDevices(let name, let limit):
            "virtio-mmio: no interrupt pin left for \(name): at most \(limit) devices (IOAPIC pins \(MMIOSlots.pins.map(String.init).joined(separator: ", ")))"
        }
    }
}

/// An edge-triggered IOAPIC pin through an irqfd: raising it signals the eventfd and KVM
/// pulses the pin; lowering it is nothing, the pulse already fell.
final class IRQFDLine: InterruptLine {
    private let event: EventFD

    init(_ event: EventFD) { self.event = event }

    func set(level: Bool) {
        if level { event.signal() }
    }
}
