#if canImport(Glibc)
import Glibc
#endif
import Logging
import SwiftletACPI
import SwiftletDevices
import SwiftletKVM

/// The top of Swiftlet: open KVM, then boot the guest again and again for as long as it
/// resets, the way the seed Launcher re-executed itself, until it powers off or fails.
///
/// Reading order: `run` here, then `GuestBoot` (one boot: memory, devices, kernel,
/// vCPUs), then `VCPURunner` (the exit loop), then the devices.
public enum Machine {
    /// Runs the guest described by `config`; returns swiftlet's exit status.
    public static func run(_ config: MachineConfig, logger: Logger) -> Int32 {
        let kvm: KVMSystem
        do {
            kvm = try KVMSystem()
        } catch {
            logger.error("\(error.description)")
            return ExitStatus.vmmError.rawValue
        }
        // The MADT's xAPIC entries cap the count too: 8-bit APIC IDs, 0xFF is broadcast.
        let maxCPUs = min(kvm.maxVCPUs, ACPITables.maximumCPUs)
        guard config.cpus >= 1, config.cpus <= maxCPUs else {
            logger.error("--cpus \(config.cpus): swiftlet runs 1 to \(maxCPUs) vCPUs on this KVM")
            return ExitStatus.usage.rawValue
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
            logger.error("\(error.description)")
            return ExitStatus.vmmError.rawValue
        }

        if !host.extraKernelArguments.isEmpty {
            logger.info("PVM passes some CPUID bits through from the hardware: prepending \"\(host.extraKernelArguments.joined(separator: " "))\" to the kernel command line")
        }

        // Taps outlive resets; a failure here leaves none behind.
        let network: NetworkCards
        do {
            network = try NetworkCards(config.networks, logger: logger)
        } catch {
            logger.error("\(error.description)")
            return ExitStatus.vmmError.rawValue
        }

        HostSignals.install()
        let control = RunControl()
        let terminal = Terminal()
        let console = ConsoleInput(control: control)
        guard HostSignals.startWatcher(control: control),
              console.start(watchForTripleInterrupt: terminal.isTerminal)
        else {
            logger.error("cannot start a host thread")
            return ExitStatus.vmmError.rawValue
        }
        terminal.makeRaw()
        defer { terminal.restore() }

        // Battery-backed CMOS outlives a reset, so it outlives each boot.
        let cmos = CMOSRTC()
        var resetGuard = ResetGuard(limit: config.resetLimit, window: config.resetWindow)
        var boots = 0
        while true {
            boots += 1
            control.rearm()
            let outcome: RunOutcome
            do {
                let boot = try GuestBoot(
                    config: config, kvm: kvm, host: host, control: control, console: console,
                    cmos: cmos, network: network, logger: logger)
                outcome = boot.run()
            } catch {
                logger.error("\(error)")
                return ExitStatus.vmmError.rawValue
            }
            switch outcome {
            case .powerOff:
                logger.info("guest powered off")
                return ExitStatus.poweredOff.rawValue
            case .reset:
                if let line = resetGuard.recordReset() {
                    terminal.restore()
                    logger.error("\(line)")
                    return ExitStatus.vmmError.rawValue
                }
                logger.info("guest reset: booting it again (boot \(boots + 1))")
            case .guestPanic:
                terminal.restore()
                logger.error("the guest panicked")
                return ExitStatus.guestPanic.rawValue
            case .failure(let line):
                terminal.restore()
                logger.error("\(line)")
                return ExitStatus.vmmError.rawValue
            case .signal(let number):
                logger.info("stopped by signal \(number)")
                return ExitStatus.killed(by: number)
            }
        }
    }
}

/// What KVM says of the host CPU, read once: the CPUID leaves it supports and the MSRs
/// it will take, with the template to shape them by.
struct HostCPU: Sendable {
    let supportedCPUID: [CPUIDEntry]
    let bootMSRs: [(index: UInt32, value: UInt64)]
    let template: CPUTemplate
    /// What the template needs Linux's command line to say (see CPUTemplate.kernelArguments).
    let extraKernelArguments: [String]

    init(kvm: KVMSystem, template: CPUTemplate) throws(KVMError) {
        supportedCPUID = try kvm.supportedCPUID()
        bootMSRs = BootMSRs.values(supported: try kvm.msrIndexList())
        self.template = template
        extraKernelArguments = template.kernelArguments(onPVM: KVMSystem.isPVM)
    }
}
