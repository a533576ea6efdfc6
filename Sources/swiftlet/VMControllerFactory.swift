import Logging
import SwiftletHost
import SwiftletMachine

/// THE place where API mode gets its VM: SwiftletMachine's MicroVM, with the console on
/// stdin and stdout as Firecracker has it (a terminal goes raw while the guest runs),
/// locked down as the command line asks once InstanceStart has built the first boot.
func makeVMController(logger: Logger, lockdown: ProcessLockdown) -> any VMController {
    MicroVM(frontEnd: VMFrontEnd(lockdown: lockdown), logger: logger)
}
