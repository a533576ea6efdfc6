/// The rules of a VM's life, apart from the threads that live it: which requests are
/// allowed in which phase, and the words of a refusal. MicroVM holds one behind its lock.
struct Lifecycle: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        case notStarted
        /// InstanceStart is building the first boot.
        case starting
        case running
        case paused
        case stopped
    }

    private(set) var phase = Phase.notStarted

    /// What GET / says.
    var state: VMState {
        switch phase {
        case .notStarted, .starting: return .notStarted
        case .running: return .running
        case .paused: return .paused
        case .stopped: return .stopped
        }
    }

    mutating func beginStart() throws(VMError) {
        switch phase {
        case .notStarted: phase = .starting
        case .starting, .running, .paused: throw VMError("the VM has already been started")
        case .stopped: throw VMError("the VM has stopped; it cannot be started again")
        }
    }

    /// The first boot is built and its threads are starting; or it failed.
    mutating func finishStart(succeeded: Bool) {
        guard phase == .starting else { return }
        phase = succeeded ? .running : .notStarted
    }

    /// Checks a pause may begin; the phase changes once the threads are parked (`paused`).
    func checkPause() throws(VMError) {
        switch phase {
        case .running: return
        case .paused: throw VMError("the VM is already paused")
        case .notStarted, .starting: throw VMError("the VM has not been started")
        case .stopped: throw VMError("the VM has stopped")
        }
    }

    mutating func paused() {
        if phase == .running { phase = .paused }
    }

    mutating func resume() throws(VMError) {
        switch phase {
        case .paused: phase = .running
        case .running: throw VMError("the VM is not paused")
        case .notStarted, .starting: throw VMError("the VM has not been started")
        case .stopped: throw VMError("the VM has stopped")
        }
    }

    /// Checks a request that needs a guest running or paused (Ctrl+Alt+Del, a disk swap).
    func checkStarted() throws(VMError) {
        switch phase {
        case .running, .paused: return
        case .notStarted, .starting: throw VMError("the VM has not been started")
        case .stopped: throw VMError("the VM has stopped")
        }
    }

    mutating func stopped() { phase = .stopped }
}
