#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SwiftletACPI
import SwiftletDevices
import SwiftletHost
import SwiftletKVM

/// A virtual machine with a life a front end drives: built from a validated
/// configuration, then started, paused, resumed and stopped, with an observable state and
/// an exit status for how it ended. The command line and the Firecracker API are two
/// front ends over it; what differs between them (console, terminal, signals, what a
/// guest reset means) is theirs to choose.
///
/// Threads: `start` builds the first boot on the caller's thread (so a bad kernel is the
/// caller's error), then a supervisor thread runs boot after boot, as the seed Launcher
/// re-executed itself, until the guest powers off, fails or is stopped.
public final class MicroVM: VMController, @unchecked Sendable {
    // @unchecked: `lifecycle`, `boot` and `resources` are behind Mutexes; `operations`
    // orders the requests that change the phase; the rest never changes.
    private let frontEnd: VMFrontEnd
    private let logger: Logger
    private let lifecycle = Mutex(Lifecycle())
    /// Serialises start, pause and resume (a stop never waits for it).
    private let operations = Mutex<Void>(())
    private let control = RunControl()
    private let gate = PauseGate()
    private let exitStatus = Latch<Int32>()
    /// A stop asked for by signal number: it must outlive the rearming of `control`
    /// between two boots, or a stop during a guest reset would be lost.
    private let stopSignal = Mutex<Int32?>(nil)
    private let boot = Mutex<GuestBoot?>(nil)
    private let resources = Mutex<RunResources?>(nil)
    private let terminal = Terminal()
    private let output: ConsoleOutput

    public init(frontEnd: VMFrontEnd = VMFrontEnd(), logger: Logger) {
        self.frontEnd = frontEnd
        self.logger = logger
        output = ConsoleOutput(fd: frontEnd.consoleFD)
    }

    public var state: VMState { lifecycle.withLock { $0.state } }

    // MARK: Starting

    public func start(_ config: MachineConfig) throws(VMError) {
        try operations.withLock { _ throws(VMError) in
            try lifecycle.withLock { (lifecycle) throws(VMError) in try lifecycle.beginStart() }
            do throws(VMError) {
                let resources = try makeResources(config)
                let first = try build(resources)
                boot.withLock { $0 = first }
                self.resources.withLock { $0 = resources }
                // Everything that needs privilege is open now (/dev/kvm, disks, taps, the
                // first VM); what follows, resets included, needs none of it.
                if let lockdown = frontEnd.lockdown {
                    do { try lockdown.apply() } catch { throw VMError("cannot lock the process down: \(error)") }
                    logger.info("locked down: \(lockdown.summary)")
                }
                if frontEnd.rawTerminal { terminal.makeRaw() }
                // The supervisor takes the boot from `boot`: a capture here would keep the
                // first boot's memory and descriptors alive for the whole run.
                let supervisor = HostThread { [self] in supervise(resources) }
                guard supervisor.startDetached() else { throw VMError("cannot start a host thread") }
                lifecycle.withLock { $0.finishStart(succeeded: true) }
            } catch {
                boot.withLock { $0 = nil }
                terminal.restore()
                lifecycle.withLock { $0.finishStart(succeeded: false) }
                throw error
            }
        }
    }

    /// What outlives the boots: KVM, the host CPU, the devices' files and taps.
    private func makeResources(_ config: MachineConfig) throws(VMError) -> RunResources {
        HostSignals.installKick()
        let kvm: KVMSystem
        do {
            kvm = try KVMSystem()
        } catch {
            throw VMError(error.description)
        }
        // The MADT's xAPIC entries cap the count too: 8-bit APIC IDs, 0xFF is broadcast.
        let maxCPUs = min(kvm.maxVCPUs, ACPITables.maximumCPUs)
        guard config.cpus >= 1, config.cpus <= maxCPUs else {
            throw VMError("--cpus \(config.cpus): swiftlet runs 1 to \(maxCPUs) vCPUs on this KVM", status: ExitStatus.usage.rawValue)
        }
        let template = config.cpuTemplate ?? CPUTemplate.defaultTemplate(isPVM: KVMSystem.isPVM)
        if config.cpuTemplate == nil && KVMSystem.isPVM {
            logger.info("KVM here is PVM (kvm_pvm is loaded): using the conservative CPU template")
        }
        logger.info("CPU template \(template.rawValue): \(template.summary)")
        let host: HostCPU
        do {
            host = try HostCPU(kvm: kvm, template: template)
        } catch {
            throw VMError(error.description)
        }
        if !host.extraKernelArguments.isEmpty {
            logger.info("PVM passes some CPUID bits through from the hardware: prepending \"\(host.extraKernelArguments.joined(separator: " "))\" to the kernel command line")
        }
        let devices: [any DeviceSpec]
        do {
            devices = try MachineDevices.specs(for: config, logger: logger)
        } catch {
            throw VMError("\(error)")
        }
        let console = ConsoleInput(control: control)
        if frontEnd.consoleInput {
            guard console.start(watchForTripleInterrupt: frontEnd.rawTerminal && terminal.isTerminal) else {
                throw VMError("cannot start a host thread")
            }
        }
        var resources = RunResources(
            config: config, kvm: kvm, host: host, devices: devices, control: control, gate: gate, console: console,
            cmos: CMOSRTC(), consoleOutput: output.write, logger: logger)
        resources.seccomp = frontEnd.lockdown?.seccomp ?? false
        return resources
    }

    private func build(_ resources: RunResources) throws(VMError) -> GuestBoot {
        do {
            return try GuestBoot(resources)
        } catch {
            throw VMError("\(error)")
        }
    }

    // MARK: Running, boot after boot

    /// The supervisor thread: runs boots until one ends the VM, then records the status.
    private func supervise(_ resources: RunResources) {
        var resetGuard = ResetGuard(limit: resources.config.resetLimit, window: resources.config.resetWindow)
        var boots = 1
        var status: Int32 = ExitStatus.vmmError.rawValue
        while let outcome = runCurrentBoot() {
            // Nothing runs now: what the guest wrote goes to storage before we exit or reboot.
            for device in resources.devices {
                do { try device.flush() } catch { logger.error("\(error)") }
            }
            switch outcome {
            case .powerOff:
                logger.info("guest powered off")
                status = ExitStatus.poweredOff.rawValue
            case .reset:
                if resources.config.resetAction == .exit {
                    logger.info("guest reset: ending, as this front end's guests expect (reboot=k)")
                    status = ExitStatus.poweredOff.rawValue
                } else if let line = resetGuard.recordReset() {
                    terminal.restore()
                    logger.error("\(line)")
                } else if let signal = stopSignal.withLock({ $0 }) {
                    status = ExitStatus.killed(by: signal)
                } else {
                    boots += 1
                    logger.info("guest reset: booting it again (boot \(boots))")
                    control.rearm()
                    do {
                        let next = try build(resources)
                        boot.withLock { $0 = next }
                    } catch {
                        terminal.restore()
                        logger.error("\(error.description)")
                    }
                }
            case .guestPanic:
                terminal.restore()
                logger.error("the guest panicked")
                status = ExitStatus.guestPanic.rawValue
            case .failure(let line):
                terminal.restore()
                logger.error("\(line)")
            case .signal(let number):
                logger.info("stopped by signal \(number)")
                status = ExitStatus.killed(by: number)
            }
        }
        // The guest's last lines reach stdout before we say we are done (but a stdout
        // nobody reads cannot hold the process).
        let dropped = output.flush(within: 2)
        if dropped > 0 { logger.notice("the guest's console lost \(dropped) bytes: stdout did not keep up") }
        terminal.restore()
        lifecycle.withLock { $0.stopped() }
        exitStatus.open(with: status)
    }

    /// Runs the boot in `boot` to its end and lets it go (its memory, VM and descriptors
    /// with it) before the caller builds another. Nil when there is none to run.
    private func runCurrentBoot() -> RunOutcome? {
        guard let current = boot.withLock({ $0 }) else { return nil }
        let outcome = current.run()
        boot.withLock { $0 = nil }
        return outcome
    }

    // MARK: Pausing

    public func pause() throws(VMError) {
        try operations.withLock { _ throws(VMError) in
            try lifecycle.withLock { (lifecycle) throws(VMError) in try lifecycle.checkPause() }
            let parked = gate.pause { boot.withLock { $0?.threads.kick() } }
            guard parked else {
                gate.resume()
                throw VMError("the VM stopped while it was being paused")
            }
            lifecycle.withLock { $0.paused() }
            logger.info("paused: no vCPU in the guest, the device thread idle")
        }
    }

    public func resume() throws(VMError) {
        try operations.withLock { _ throws(VMError) in
            try lifecycle.withLock { (lifecycle) throws(VMError) in try lifecycle.resume() }
            gate.resume()
            logger.info("resumed")
        }
    }

    // MARK: Requests to a running guest

    public func sendCtrlAltDel() throws(VMError) {
        try lifecycle.withLock { (lifecycle) throws(VMError) in try lifecycle.checkStarted() }
        guard let current = boot.withLock({ $0 }) else { throw VMError("the guest is between boots; try again") }
        guard current.keyboard.pressCtrlAltDel() else {
            throw VMError("the guest's keyboard buffer is full: it has not read the keys pressed before")
        }
        logger.info("pressed Ctrl+Alt+Del on the guest's keyboard")
    }

    public func replaceDisk(at index: Int, path: String) throws(VMError) {
        try lifecycle.withLock { (lifecycle) throws(VMError) in try lifecycle.checkStarted() }
        let disks = resources.withLock { $0?.devices.compactMap { $0 as? DiskSpec } } ?? []
        guard disks.indices.contains(index) else { throw VMError("there is no disk \(DiskSpec.deviceName(index))") }
        try disks[index].replace(path: path)
        logger.info("\(disks[index].name) now reads and writes \(path)")
    }

    // MARK: Stopping

    public func stop() { stop(signal: SIGTERM) }

    /// Ends the VM as signal `signal` would: the vCPUs stop, disks are flushed, the
    /// status is 128 + `signal`.
    public func stop(signal: Int32) {
        stopSignal.withLock { $0 = $0 ?? signal }
        let notStarted = lifecycle.withLock { lifecycle -> Bool in
            guard lifecycle.phase == .notStarted else { return false }
            lifecycle.stopped()
            return true
        }
        if notStarted {
            exitStatus.open(with: ExitStatus.killed(by: signal))
        } else {
            control.finish(.signal(signal))
        }
    }

    public func waitUntilStopped() -> Int32 { exitStatus.wait() }
}

/// What a front end chooses for the VM it drives.
public struct VMFrontEnd: Sendable {
    /// Where the guest's console bytes go (the 8250 and the virtio console alike),
    /// through a bounded buffer so a stalled reader never stalls the guest.
    public var consoleFD: Int32
    /// Whether our stdin feeds the guest's console.
    public var consoleInput: Bool
    /// A terminal on stdin goes raw while the guest runs (^C belongs to the guest, three
    /// within a second end swiftlet) and is put back on every way out.
    public var rawTerminal: Bool
    /// What the process gives up once the first boot is built (limits, user and group);
    /// nil for none, as in tests that run a VM inside the test process.
    public var lockdown: ProcessLockdown?

    public init(consoleFD: Int32 = STDOUT_FILENO, consoleInput: Bool = true, rawTerminal: Bool = true,
                lockdown: ProcessLockdown? = nil) {
        self.consoleFD = consoleFD
        self.consoleInput = consoleInput
        self.rawTerminal = rawTerminal
        self.lockdown = lockdown
    }
}
