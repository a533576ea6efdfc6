import Logging
import SwiftletACPI
import SwiftletDevices
import SwiftletHost
import SwiftletKVM
import SwiftletMemory

/// This boot's virtio devices on the configured transport, and what the firmware and the
/// kernel's command line must say of them. One transport per boot: PCI (the host bridge,
/// its ECAM and MCFG, the devices behind it) or virtio-mmio (no PCI at all, as
/// Firecracker's guests expect; Linux's probe of the config ports then finds nothing).
/// A virtio-mmio guest hears of its devices one way only: LNRO0005 devices in the DSDT,
/// or `virtio_mmio.device=` words when its command line says `acpi=off`.
struct VirtioDevices {
    /// Devices for the DSDT's `\_SB` scope.
    let dsdtDevices: [AML]
    /// ACPI tables beside the MADT (PCI's MCFG).
    let acpiTables: [ACPITable]
    /// Windows e820 must mark reserved (PCI's ECAM; virtio-mmio windows need none: they
    /// lie in the MMIO hole, which e820 leaves out, and Linux's virtio_mmio claims them).
    let reserved: [(start: UInt64, size: UInt64)]
    /// Words for the end of the kernel's command line.
    let kernelArguments: [String]
    /// IOAPIC pins of edge-triggered devices, for the MP table.
    let interruptPins: [UInt8]

    init(
        transport: MachineConfig.DeviceTransport, specs: [any DeviceSpec], context: DeviceBuildContext,
        guestArguments: [String], vm: VirtualMachine, memory: GuestMemory, ports: Bus, mmio: Bus,
        control: RunControl, logger: Logger
    ) throws {
        switch transport {
        case .pci:
            let pci = try PCIDevices(
                vm: vm, memory: memory, ports: ports, mmio: mmio, loop: context.loop, control: control, logger: logger)
            for spec in specs { try pci.add(try spec.build(in: context), name: spec.name) }
            dsdtDevices = PCIDevices.dsdtDevices
            acpiTables = PCIDevices.acpiTables
            reserved = [(PCIDevices.ecamBase, PCIDevices.ecamSize)]
            kernelArguments = []
            interruptPins = []
        case .mmio:
            let devices = MMIODevices(vm: vm, memory: memory, mmio: mmio, loop: context.loop, logger: logger)
            for spec in specs { try devices.add(try spec.build(in: context), name: spec.name) }
            let placed = devices.placed
            let acpiOff = MMIOSlots.guestIgnoresACPI(guestArguments)
            dsdtDevices = acpiOff ? [] : placed.dsdtDevices
            kernelArguments = acpiOff ? placed.kernelArguments : []
            acpiTables = []
            reserved = []
            interruptPins = placed.interruptPins
            logger.debug("virtio-mmio: \(placed.slots.count) devices, found through \(acpiOff ? "the command line (acpi=off)" : "the DSDT")")
        }
    }
}
