import Logging
import SwiftletHost

/// The seed's command line as a front end over `MicroVM`: the guest's console is our
/// terminal (raw while it runs), stop signals stop it in order, and a guest reset boots
/// it again in the same process until it powers off or fails.
///
/// Reading order: `run` here, then `MicroVM` (the lifecycle and the supervisor that runs
/// boot after boot), `GuestBoot` (one boot: memory, devices, kernel, vCPUs),
/// `BootThreads` and `VCPURunner` (the exit loop), then the devices.
public enum Machine {
    /// Runs the guest described by `config`; returns swiftlet's exit status.
    public static func run(_ config: MachineConfig, lockdown: ProcessLockdown? = nil, logger: Logger) -> Int32 {
        HostSignals.install()
        let vm = MicroVM(frontEnd: VMFrontEnd(lockdown: lockdown), logger: logger)
        guard HostSignals.startWatcher(onSignal: { vm.stop(signal: $0) }) else {
            logger.error("cannot start a host thread")
            return ExitStatus.vmmError.rawValue
        }
        do {
            try vm.start(config)
        } catch {
            logger.error("\(error.description)")
            return error.status
        }
        return vm.waitUntilStopped()
    }
}
