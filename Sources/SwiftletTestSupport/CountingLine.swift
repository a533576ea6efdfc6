import Synchronization
import SwiftletDevices

/// An interrupt line for tests: remembers its level and counts rising edges, which is
/// what an edge-triggered IOAPIC pin would deliver.
public final class CountingLine: InterruptLine {
    private struct State {
        var level = false
        var risingEdges = 0
        var sets = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func set(level: Bool) {
        state.withLock { s in
            if level && !s.level { s.risingEdges += 1 }
            s.level = level
            s.sets += 1
        }
    }

    /// The level last set.
    public var level: Bool { state.withLock { $0.level } }
    /// How many times the line went from low to high.
    public var risingEdges: Int { state.withLock { $0.risingEdges } }
    /// How many times `set` was called, repeats included.
    public var setCount: Int { state.withLock { $0.sets } }
}
