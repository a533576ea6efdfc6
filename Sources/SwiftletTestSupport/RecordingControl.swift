import Synchronization
import SwiftletDevices

/// A `MachineControl` for tests: records every request in order.
public final class RecordingControl: MachineControl {
    private let recorded = Mutex<[MachineRequest]>([])

    public init() {}

    public func request(_ request: MachineRequest) {
        recorded.withLock { $0.append(request) }
    }

    /// Every request so far, oldest first.
    public var requests: [MachineRequest] { recorded.withLock { $0 } }
}
