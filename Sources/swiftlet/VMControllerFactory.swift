import Logging
import SwiftletMachine

/// THE place where API mode gets its VM: SwiftletMachine's MicroVM, with the console on
/// stdin and stdout as Firecracker has it (a terminal goes raw while the guest runs).
func makeVMController(logger: Logger) -> any VMController {
    MicroVM(frontEnd: VMFrontEnd(), logger: logger)
}
