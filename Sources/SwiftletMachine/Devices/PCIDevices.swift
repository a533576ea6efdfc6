import Logging
import Synchronization
import SwiftletACPI
import SwiftletDevices
import SwiftletHost
import SwiftletKVM
import SwiftletMemory

/// The PCI side of one boot: bus 0 with its host bridge, both ways into configuration
/// space, and the virtio devices with their doorbells (ioeventfds) and interrupts
/// (irqfds on MSI routes).
final class PCIDevices: Sendable {
    /// ECAM for bus 0 (32 devices x 8 functions x 4 KiB), inside the MMIO hole.
    static let ecamBase: UInt64 = PCIECAM.baseAddress
    static let ecamSize: UInt64 = PCIECAM.windowSize

    let bus: PCIBus
    private let doorbells = Doorbells()
    private let vm: VirtualMachine
    private let memory: GuestMemory
    private let router: InterruptRouter
    private let loop: EventLoop
    private let control: RunControl
    private let logger: Logger

    init(vm: VirtualMachine, memory: GuestMemory, ports: Bus, mmio: Bus, loop: EventLoop,
         control: RunControl, logger: Logger) throws {
        self.vm = vm
        self.memory = memory
        self.router = InterruptRouter(vm: vm)
        self.loop = loop
        self.control = control
        self.logger = logger
        let doorbells = self.doorbells
        bus = PCIBus(mmio: mmio, onBARChange: { [logger] change in
            // The guest moved (or unmapped, or is sizing) a BAR: move the doorbells too.
            guard change.bar == VirtioPCILayout.bar,
                  let slot = doorbells.slots.withLock({ $0[change.slot] }) else { return }
            do {
                try slot.place(at: change.new)
            } catch {
                control.finish(.failure("\(error)"))
            }
            logger.trace("PCI 00:\(change.slot).0 BAR0 now at \(change.new.map { "0x" + String($0, radix: 16) } ?? "nowhere")")
        })
        try bus.insert(PCIHostBridge(), slot: 0)
        try ports.insert(PCIConfigPorts(bus: bus), at: PCIConfigPorts.basePort, size: PCIConfigPorts.windowSize, name: "PCI config ports")
        try mmio.insert(PCIECAM(bus: bus), at: Self.ecamBase, size: Self.ecamSize, name: "PCI ECAM")
    }

    /// Plugs `device` into the next free slot; returns the slot.
    @discardableResult
    func add(_ device: any VirtioDevice, name: String) throws -> Int {
        let vectors = device.queueMaxSizes.count + 1
        let msi = try KVMMSIVectors(router: router, count: vectors, onError: { [control] line in
            control.finish(.failure(line))
        })
        let transport = try VirtioPCIDevice(device: device, memory: memory, msiDelivery: msi, name: name)
        let slot = try bus.insert(transport)
        let notifiers = try VirtioNotifiers(transport: transport, queueCount: device.queueMaxSizes.count, vm: vm, loop: loop)
        doorbells.slots.withLock { $0[slot] = notifiers }
        try notifiers.place(at: bus.barAddress(slot: slot, bar: VirtioPCILayout.bar))
        let bar = bus.barAddress(slot: slot, bar: VirtioPCILayout.bar).map { "0x" + String($0, radix: 16) } ?? "unmapped"
        logger.debug("PCI 00:\(slot).0: \(name) (virtio \(device.deviceType), \(device.queueMaxSizes.count) queues, BAR0 at \(bar), \(vectors) MSI-X vectors)")
        return slot
    }

    /// What the firmware tables say of the bus: the root bridge and its MCFG entry.
    static var dsdtDevices: [AML] { [AMLDevices.pciRoot(mmioWindow: PCIBus.defaultWindow)] }
    static var acpiTables: [ACPITable] {
        [MCFG(allocations: [MCFG.Allocation(baseAddress: ecamBase, endBus: 0)]).table()]
    }
}

/// Each virtio slot's doorbells, found by slot when a BAR moves.
final class Doorbells: Sendable {
    let slots = Mutex<[Int: VirtioNotifiers]>([:])
}
