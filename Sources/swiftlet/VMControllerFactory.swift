#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import SwiftletMachine

/// THE place where API mode gets its VM: replace the body with SwiftletMachine's VM object
/// once it exists. Until then a controller that configures fine and refuses to start.
func makeVMController(logger: Logger) -> any VMController {
    NoVMController()
}

/// Stands in for the VM object: every lifecycle call fails with one clear line, and
/// `stop` ends `waitUntilStopped` as the protocol asks.
final class NoVMController: VMController {
    private let stopped = Mutex(false)
    private let wakeUp: (read: Int32, write: Int32)

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        wakeUp = (fds[0], fds[1])
    }

    var state: VMState { stopped.withLock { $0 } ? .stopped : .notStarted }

    private static let missing = VMError("this swiftlet cannot start a VM from the API yet: the VM object is not wired in")

    func start(_ config: MachineConfig) throws(VMError) { throw Self.missing }
    func pause() throws(VMError) { throw Self.missing }
    func resume() throws(VMError) { throw Self.missing }
    func sendCtrlAltDel() throws(VMError) { throw Self.missing }
    func replaceDisk(at index: Int, path: String) throws(VMError) { throw Self.missing }

    func stop() {
        stopped.withLock { $0 = true }
        var byte: UInt8 = 1
        _ = write(wakeUp.write, &byte, 1)
    }

    func waitUntilStopped() -> Int32 {
        var byte: UInt8 = 0
        while !stopped.withLock({ $0 }) {
            if read(wakeUp.read, &byte, 1) < 0 && errno != EINTR { break }
        }
        return ExitStatus.poweredOff.rawValue
    }
}
