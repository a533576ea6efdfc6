import Synchronization
import SwiftletDevices

/// A virtio device that records what the transport does to it.
final class FakeVirtioDevice: VirtioDevice {
    struct ActivationError: Error {}

    struct Record {
        var activations: [VirtioActivation] = []
        var notified: [Int] = []
        var resets = 0
        var configWrites: [(UInt64, Int, UInt64)] = []
        /// What `queueNotified` answers: work left past the budget.
        var workLeft = false
    }

    let deviceType: UInt16 = 4
    let queueMaxSizes: [UInt16]
    let offeredFeatures: UInt64
    let failActivation: Bool
    /// 8 bytes of device config: 0x11, 0x22, ... 0x88.
    let config: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
    private let record = Mutex(Record())

    init(queueMaxSizes: [UInt16] = [16, 8], offeredFeatures: UInt64 = 1 << 5 | 1 << 34, failActivation: Bool = false) {
        self.queueMaxSizes = queueMaxSizes
        self.offeredFeatures = offeredFeatures
        self.failActivation = failActivation
    }

    func configRead(offset: UInt64, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for lane in 0..<size where offset + UInt64(lane) < UInt64(config.count) {
            value |= UInt64(config[Int(offset) + lane]) << UInt64(8 * lane)
        }
        return value
    }

    func configWrite(offset: UInt64, size: Int, value: UInt64) {
        record.withLock { $0.configWrites.append((offset, size, value)) }
    }

    func activate(_ context: VirtioActivation) throws {
        record.withLock { $0.activations.append(context) }
        if failActivation { throw ActivationError() }
    }

    func queueNotified(_ index: Int) -> Bool {
        record.withLock { record in
            record.notified.append(index)
            return record.workLeft
        }
    }
    func reset() { record.withLock { $0.resets += 1 } }

    var activations: [VirtioActivation] { record.withLock { $0.activations } }
    var notified: [Int] { record.withLock { $0.notified } }
    var resets: Int { record.withLock { $0.resets } }
    var workLeft: Bool {
        get { record.withLock { $0.workLeft } }
        set { record.withLock { $0.workLeft = newValue } }
    }
    var configWriteCount: Int { record.withLock { $0.configWrites.count } }
}
