import Synchronization
import SwiftletDevices

/// A bus device that answers every read with `value` and remembers every write.
final class RecordingDevice: BusDevice {
    let value: UInt64
    private let log = Mutex<[(offset: UInt64, size: Int, value: UInt64)]>([])

    init(value: UInt64) { self.value = value }

    func read(offset: UInt64, size: Int) -> UInt64 { value }
    func write(offset: UInt64, size: Int, value: UInt64) { log.withLock { $0.append((offset, size, value)) } }

    var writes: [(offset: UInt64, size: Int, value: UInt64)] { log.withLock { $0 } }
}
