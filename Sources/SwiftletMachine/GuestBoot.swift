import Logging
import SwiftletACPI
import SwiftletBoot
import SwiftletDevices
import SwiftletHost
import SwiftletKVM
import SwiftletMemory

/// What outlives a boot, made once per run: KVM and what it says of the host CPU, the
/// devices' host resources, the run's control and pause gate, and what the front end
/// chose for the console.
struct RunResources: Sendable {
    let config: MachineConfig
    let kvm: KVMSystem
    let host: HostCPU
    let devices: [any DeviceSpec]
    let control: RunControl
    let gate: PauseGate
    let console: ConsoleInput
    /// Battery-backed CMOS: its NVRAM survives a guest reset.
    let cmos: CMOSRTC
    let consoleOutput: @Sendable ([UInt8]) -> Void
    let logger: Logger
    /// Whether each vCPU and device thread installs its seccomp filter as it starts.
    var seccomp = false
}

/// One boot of the guest, from empty memory to its end: a reset throws all of this away
/// and builds it again over the same `RunResources`, so nothing of a previous boot can
/// leak into the next.
final class GuestBoot: Sendable {
    let memory: GuestMemory
    let vm: VirtualMachine
    let ports: Bus
    let mmio: Bus
    /// Ctrl+Alt+Del is pressed on its keyboard.
    let keyboard: I8042
    let threads: BootThreads<VirtualCPU>
    private let resources: RunResources

    init(_ run: RunResources) throws {
        self.resources = run
        let config = run.config, logger = run.logger

        // Memory: one mapping, RAM below the MMIO hole and the rest above 4 GiB.
        memory = try GuestMemory(ranges: X86MemoryMap.ramRanges(size: config.memoryMiB << 20))
        vm = try run.kvm.createVM()
        try vm.createPlatformDevices()
        try vm.map(memory)
        for region in memory.regions {
            logger.debug("RAM \(region.start)..0x\(String(region.end, radix: 16)) (\(region.size >> 20) MiB)")
        }

        // Legacy devices on the port bus; anything else a guest probes floats high.
        ports = Self.bus(kind: "port", logger: logger)
        mmio = Self.bus(kind: "MMIO", logger: logger)
        let line = { [vm, control = run.control] (gsi: UInt32) in
            KVMInterruptLine(vm: vm, gsi: gsi, onError: { control.finish(.failure($0.description)) })
        }
        let legacy = try LegacyDevices(
            ports: ports, line: line, cmos: run.cmos, consoleOutput: run.consoleOutput, console: run.console,
            control: run.control, panicRebootTimeout: config.panicRebootTimeout, logger: logger)
        keyboard = legacy.keyboard

        // Virtio devices on PCI or virtio-mmio, in the configured order, served by the
        // event loop's thread.
        let loop = try EventLoop()
        let context = DeviceBuildContext(
            loop: loop, logger: logger, consoleOutput: run.consoleOutput, console: run.console, serial: legacy.serial)
        let arguments = run.host.extraKernelArguments + config.kernelArguments
        let virtio = try VirtioDevices(
            transport: config.transport, specs: run.devices, context: context, guestArguments: arguments, vm: vm,
            memory: memory, ports: ports, mmio: mmio, control: run.control, logger: logger)

        // Firmware tables (ACPI, and the MP table for acpi=off guests), then the kernel,
        // initrd and command line.
        let tables = try ACPITables(
            cpuCount: config.cpus, dsdtDevices: AMLDevices.legacyPC + [AMLDevices.pvpanic()] + virtio.dsdtDevices,
            extraTables: virtio.acpiTables
        ).build(at: BootLayout.rsdp.value)
        try memory.write(bytes: tables, at: BootLayout.rsdp)
        let mpTable = try MPTable(cpuCount: config.cpus, devicePins: virtio.interruptPins).build(at: MPTable.defaultBase)
        try memory.write(bytes: mpTable, at: GuestAddress(MPTable.defaultBase))
        let entry = try LinuxBootLoader.load(
            kernelPath: config.kernelPath, initrdPath: config.initrdPath,
            arguments: arguments + virtio.kernelArguments, memory: memory, rsdp: BootLayout.rsdp,
            extraReserved: virtio.reserved, decompression: config.kernelDecompression)
        for line in entry.summary.description.split(separator: "\n") { logger.debug("\(line)") }

        let vcpus = try Self.makeVCPUs(count: config.cpus, vm: vm, host: run.host, entry: entry)
        threads = try BootThreads(vcpus: vcpus, loop: loop, gate: run.gate, control: run.control, seccomp: run.seccomp) {
            [memory, ports, mmio, control = run.control, gate = run.gate] vcpu in
            VCPURunner(vcpu: vcpu, memory: memory, ports: ports, mmio: mmio, control: control, gate: gate, logger: logger)
        }
    }

    /// A bus whose unclaimed accesses are traced (--verbose) and float high.
    private static func bus(kind: String, logger: Logger) -> Bus {
        Bus(unclaimed: { [logger] address, size, value in
            let what = value.map { "write 0x" + String($0, radix: 16) } ?? "read"
            logger.trace("unclaimed \(kind) 0x\(String(address, radix: 16)) \(what) (\(size) bytes)")
        })
    }

    /// Every vCPU gets its CPUID, MSRs, FPU and APIC lines; only the boot CPU gets
    /// registers, the others wait in KVM for the INIT/SIPI Linux sends them.
    private static func makeVCPUs(count: Int, vm: VirtualMachine, host: HostCPU, entry: BootEntry) throws -> [VirtualCPU] {
        try (0..<count).map { id in
            let vcpu = try vm.createVCPU(id: id)
            try vcpu.setCPUID(host.template.apply(to: host.supportedCPUID, apicID: id, cpuCount: count))
            try vcpu.setMSRs(host.bootMSRs)
            try vcpu.resetFPU()
            try vcpu.configureLocalAPICLines()
            if id == 0 {
                try vcpu.setEntryState(EntryState(entry.system))
                var registers = Registers()
                registers.rip = entry.rip
                registers.rsi = entry.rsi
                registers.rsp = entry.rsp
                registers.rflags = entry.rflags
                try vcpu.setRegisters(registers)
            }
            return vcpu
        }
    }

    /// The buses' windows hold devices that hold the buses again (the ECAM and the config
    /// ports hold the PCI bus, which holds the MMIO bus for its BAR windows): without
    /// breaking that cycle every reset kept the last boot's devices, guest RAM mapping
    /// and VM file descriptors alive.
    deinit {
        mmio.removeAll()
        ports.removeAll()
    }

    /// Runs every vCPU on its own thread until the run has an outcome, then stops them all
    /// and returns it.
    func run() -> RunOutcome {
        threads.start()
        let outcome = resources.control.wait()
        threads.stop()
        resources.console.attach(nil)
        return outcome
    }
}

extension EntryState {
    /// The loader's description of the 64-bit entry, in the KVM layer's terms.
    init(_ state: LongModeState) {
        self.init(
            code: Segment(state.cs), data: Segment(state.ds), task: Segment(state.tr),
            gdtBase: state.gdtBase, gdtLimit: state.gdtLimit, idtBase: state.idtBase, idtLimit: state.idtLimit,
            cr0: state.cr0, cr3: state.cr3, cr4: state.cr4, efer: state.efer)
    }
}

extension Segment {
    init(_ segment: SegmentRegister) {
        self.init(
            base: segment.base, limit: segment.limit, selector: segment.selector, type: segment.type,
            present: segment.present, dpl: segment.dpl, db: segment.db, s: segment.s, l: segment.l, g: segment.g)
    }
}
