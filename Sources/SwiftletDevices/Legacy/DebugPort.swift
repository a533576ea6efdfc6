import Synchronization

/// Port 0x80, where firmware and Linux's early boot write POST codes (and where `outb_p`
/// writes to waste a bus cycle). Writes are kept and reported; reads return the last one.
public final class DebugPort: BusDevice {
    private let last = Mutex<UInt8>(0)
    private let observer: (@Sendable (UInt8) -> Void)?

    /// `observer` hears every byte written, e.g. to trace POST codes under `--verbose`.
    public init(observer: (@Sendable (UInt8) -> Void)? = nil) {
        self.observer = observer
    }

    /// The last byte written.
    public var lastValue: UInt8 { last.withLock { $0 } }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        let value = last.withLock { $0 }
        return ByteLanes.read(offset: offset, size: size, width: 1) { _ in value }
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        var written: UInt8?
        last.withLock { l in
            ByteLanes.write(offset: offset, size: size, value: value, width: 1) { _, byte in
                l = byte
                written = byte
            }
        }
        if let written { observer?(written) }
    }
}
