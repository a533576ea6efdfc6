import Synchronization
import SwiftletDevices

/// An `MSIDelivery` for tests: records every delivered vector and route change in order.
public final class PCIMSIRecorder: MSIDelivery {
    public struct Route: Equatable, Sendable {
        public var address: UInt64
        public var data: UInt32
        public var masked: Bool

        public init(address: UInt64, data: UInt32, masked: Bool) {
            self.address = address
            self.data = data
            self.masked = masked
        }
    }

    private struct State {
        var signals: [Int] = []
        var routes: [Int: Route] = [:]
        var routeChanges = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func vectorChanged(vector: Int, address: UInt64, data: UInt32, masked: Bool) {
        state.withLock { s in
            s.routes[vector] = Route(address: address, data: data, masked: masked)
            s.routeChanges += 1
        }
    }

    public func signal(vector: Int, address: UInt64, data: UInt32) {
        state.withLock { $0.signals.append(vector) }
    }

    /// Vectors delivered so far, oldest first.
    public var signals: [Int] { state.withLock { $0.signals } }
    /// The last route reported for each vector.
    public func route(_ vector: Int) -> Route? { state.withLock { $0.routes[vector] } }
    public var routeChanges: Int { state.withLock { $0.routeChanges } }
}
