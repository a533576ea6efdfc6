/// Where a VM is in its life, as a front end (the API's GET /) reports it.
public enum VMState: Sendable, Equatable {
    /// Configured, or being configured; no vCPU has run.
    case notStarted
    case running
    /// Every vCPU is out of KVM_RUN and the device thread is idle until `resume`.
    case paused
    /// The guest ended (powered off, reset in API mode, panicked, failed) or was stopped.
    case stopped
}

/// Why a lifecycle request was refused, as one line (the API's fault_message).
public struct VMError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    /// The exit status a front end that gives up on this error uses: 1 (swiftlet
    /// failed), or 2 for a configuration KVM cannot run (too many vCPUs).
    public let status: Int32
    public init(_ description: String, status: Int32 = ExitStatus.vmmError.rawValue) {
        self.description = description
        self.status = status
    }
}

/// What a front end that drives a VM (the Firecracker API) asks of it. The VM object of
/// SwiftletMachine implements it; API tests use a fake.
public protocol VMController: AnyObject, Sendable {
    var state: VMState { get }
    /// Builds the machine from `config` (already validated) and starts its vCPUs; returns
    /// once it runs. Fails with the one line to report, nothing left running.
    func start(_ config: MachineConfig) throws(VMError)
    /// Returns once every vCPU has left KVM_RUN and the device thread is quiescent.
    func pause() throws(VMError)
    func resume() throws(VMError)
    /// Presses Ctrl+Alt+Del on the guest's i8042 keyboard.
    func sendCtrlAltDel() throws(VMError)
    /// Points disk `index` (vda is 0) at another file, the guest told by a
    /// configuration-change interrupt (Firecracker's PATCH /drives).
    func replaceDisk(at index: Int, path: String) throws(VMError)
    /// Ends the VM (a signal, an API client's shutdown); before `start`, makes
    /// `waitUntilStopped` return as if it had run and stopped.
    func stop()
    /// Blocks until the VM has stopped; returns swiftlet's exit status for how it ended
    /// (`ExitStatus`: 0 powered off, 1 failed, 3 panicked, 128+N a signal).
    func waitUntilStopped() -> Int32
}
