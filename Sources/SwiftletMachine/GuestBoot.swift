import Logging
import SwiftletACPI
import SwiftletBoot
import SwiftletDevices
import SwiftletHost
import SwiftletKVM
import SwiftletMemory

/// One boot of the guest, from empty memory to its end: a reset throws all of this away
/// and builds it again, so nothing of a previous boot can leak into the next.
final class GuestBoot {
    let memory: GuestMemory
    let vm: VirtualMachine
    let vcpus: [VirtualCPU]
    let ports: Bus
    let mmio: Bus
    let control: RunControl
    let console: ConsoleInput
    let logger: Logger
    /// Where device I/O happens: queue kicks, and the devices' own file descriptors.
    let loop: EventLoop
    /// Flushed to storage when the boot ends, however it ends.
    let disks: [VirtioBlock]

    init(config: MachineConfig, kvm: KVMSystem, host: HostCPU, control: RunControl,
         console: ConsoleInput, cmos: CMOSRTC, network: NetworkCards, logger: Logger) throws {
        self.control = control
        self.console = console
        self.logger = logger

        // Memory: one mapping, RAM below the MMIO hole and the rest above 4 GiB.
        memory = try GuestMemory(ranges: X86MemoryMap.ramRanges(size: config.memoryMiB << 20))
        vm = try kvm.createVM()
        try vm.createPlatformDevices()
        try vm.map(memory)
        for region in memory.regions {
            logger.debug("RAM \(region.start)..0x\(String(region.end, radix: 16)) (\(region.size >> 20) MiB)")
        }

        // Legacy devices on the port bus; anything else a guest probes floats high.
        ports = Bus(unclaimed: { [logger] port, size, value in
            let what = value.map { "write 0x" + String($0, radix: 16) } ?? "read"
            logger.trace("unclaimed port 0x\(String(port, radix: 16)) \(what) (\(size) bytes)")
        })
        mmio = Bus(unclaimed: { [logger] address, size, value in
            let what = value.map { "write 0x" + String($0, radix: 16) } ?? "read"
            logger.trace("unclaimed MMIO 0x\(String(address, radix: 16)) \(what) (\(size) bytes)")
        })
        let line = { [vm, control] (gsi: UInt32) in
            KVMInterruptLine(vm: vm, gsi: gsi, onError: { control.finish(.failure($0.description)) })
        }
        let serial = Serial8250(interrupt: line(4), output: StandardOutput.write, inputSpace: console.spaceAvailable)
        try ports.insert(serial, at: 0x3F8, size: 8, name: "8250 UART (COM1)")
        try ports.insert(I8042(keyboardInterrupt: line(1), control: control), at: 0x60, size: 5, name: "i8042")
        try ports.insert(cmos, at: 0x70, size: 2, name: "CMOS RTC")
        try ports.insert(DebugPort(), at: 0x80, size: 1, name: "POST code port")
        let power = ACPIPowerDevice(control: control, unsupportedSleep: { [logger] type in
            logger.debug("guest asked for sleep type \(type); only S5 (power-off) is supported")
        })
        try ports.insert(power, at: 0x600, size: 8, name: "ACPI power")
        logger.debug("devices: 8250 at 0x3f8 (IRQ 4), i8042 at 0x60/0x64, CMOS RTC at 0x70, POST port 0x80, ACPI power at 0x600")
        try ports.insert(Self.pvpanic(config: config, control: control, logger: logger),
                         at: PVPanic.port, size: 1, name: "pvpanic")

        // Virtio devices on PCI, served by the event loop's thread.
        loop = try EventLoop()
        let pci = try PCIDevices(vm: vm, memory: memory, ports: ports, mmio: mmio, loop: loop, control: control, logger: logger)
        let trace = { [logger] (name: String) -> @Sendable (String) -> Void in { logger.trace("\(name): \($0)") } }
        let virtioConsole = TransportedDevice(
            VirtioConsole(output: StandardOutput.write, inputSpace: console.spaceAvailable), trace: trace("virtio console"))
        try pci.add(virtioConsole, name: "virtio console")
        var disks: [VirtioBlock] = []
        for (index, disk) in config.disks.enumerated() {
            let block = try VirtioBlock(path: disk.path, readOnly: disk.readOnly)
            disks.append(block)
            let name = "virtio disk vd\(Character(UnicodeScalar(UInt8(97 + index % 26))))"
            try pci.add(TransportedDevice(block, trace: trace(name)), name: name)
            logger.debug("disk \(disk.path): \(block.capacity) sectors\(disk.readOnly ? ", read-only" : "")\(block.ignoredTrailingBytes > 0 ? ", last \(block.ignoredTrailingBytes) bytes ignored (not a whole sector)" : "")")
        }
        self.disks = disks
        try network.attach(to: pci, loop: loop, logger: logger, trace: trace)
        if config.rng { try pci.add(TransportedDevice(try VirtioRng(), trace: trace("virtio rng")), name: "virtio rng") }

        // Host input goes to the virtio console once a driver runs it, else to the UART.
        console.attach { bytes in
            virtioConsole.withCore { core, interrupt in
                guard let interrupt else { return serial.receive(bytes) }
                do {
                    let (accepted, needsInterrupt) = try core.receive(bytes)
                    if needsInterrupt { interrupt.signalUsed(queue: VirtioConsole.receiveQueue) }
                    return accepted
                } catch {
                    interrupt.signalNeedsReset()
                    return bytes.count
                }
            }
        }

        // Firmware tables, then the kernel, initrd and command line.
        let tables = try ACPITables(
            cpuCount: config.cpus, dsdtDevices: AMLDevices.legacyPC + [AMLDevices.pvpanic()] + PCIDevices.dsdtDevices,
            extraTables: PCIDevices.acpiTables
        ).build(at: BootLayout.rsdp.value)
        try memory.write(bytes: tables, at: BootLayout.rsdp)
        let entry = try LinuxBootLoader.load(
            kernelPath: config.kernelPath, initrdPath: config.initrdPath,
            arguments: host.extraKernelArguments + config.kernelArguments, memory: memory, rsdp: BootLayout.rsdp,
            extraReserved: [(PCIDevices.ecamBase, PCIDevices.ecamSize)], decompression: config.kernelDecompression)
        for line in entry.summary.description.split(separator: "\n") { logger.debug("\(line)") }

        // vCPUs: every one gets its CPUID, MSRs, FPU and APIC lines; only the boot CPU gets
        // registers, the others wait in KVM for the INIT/SIPI Linux sends them.
        var vcpus: [VirtualCPU] = []
        for id in 0..<config.cpus {
            let vcpu = try vm.createVCPU(id: id)
            try vcpu.setCPUID(host.template.apply(to: host.supportedCPUID, apicID: id, cpuCount: config.cpus))
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
            vcpus.append(vcpu)
        }
        self.vcpus = vcpus
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
        let threads = vcpus.map { vcpu in
            let runner = VCPURunner(vcpu: vcpu, memory: memory, ports: ports, mmio: mmio, control: control, logger: logger)
            return HostThread { runner.run() }
        }
        var running: [(VirtualCPU, HostThread)] = []
        for (vcpu, thread) in zip(vcpus, threads) {
            if thread.start() {
                running.append((vcpu, thread))
            } else {
                control.finish(.failure("cannot start a thread for vCPU \(vcpu.id)"))
            }
        }
        let loopThread = HostThread { [loop] in loop.run() }
        let loopRunning = loopThread.start()
        if !loopRunning { control.finish(.failure("cannot start the device I/O thread")) }
        let outcome = control.wait()
        // Stop every vCPU: immediate_exit catches one about to enter the guest, the signal
        // one already inside it.
        for (vcpu, thread) in running {
            vcpu.requestExit()
            thread.signal(HostSignals.kick)
        }
        for (_, thread) in running { thread.join() }
        loop.stop()
        if loopRunning { loopThread.join() }
        console.attach(nil)
        // Nothing runs now: what the guest wrote goes to storage before we exit or reboot.
        for disk in disks {
            do {
                try disk.flushToStorage()
            } catch {
                logger.error("\(error.description)")
            }
        }
        return outcome
    }

    /// The pvpanic device: a panic ends the run, unless the guest's `panic=N` says it will
    /// reboot by itself, which it then may.
    static func pvpanic(config: MachineConfig, control: RunControl, logger: Logger) -> PVPanic {
        let rebootTimeout = config.panicRebootTimeout
        return PVPanic { event in
            if event & PVPanic.panicked != 0 {
                if rebootTimeout != 0 {
                    logger.info("the guest panicked; its panic=\(rebootTimeout) reboots it")
                } else {
                    control.finish(.guestPanic)
                }
            } else {
                logger.info("pvpanic event 0x\(String(event, radix: 16)) (crash kernel loaded)")
            }
        }
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
