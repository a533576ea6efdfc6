import SwiftletDevices
import SwiftletSnapshot

/// A virtio transport's registers and queue positions in a `DEV ` section (shared by PCI
/// and mmio), and PCI's configuration space and MSI-X on top.
extension VirtioTransportState {
    /// More queues than any transport addresses (PCI's MSI-X allows 255).
    private static let maxQueues = 1024

    public func encode(into writer: inout ByteWriter) {
        writer.append(status)
        writer.append(deviceFeatureSelect)
        writer.append(driverFeatureSelect)
        writer.append(driverFeatures)
        writer.append(configMSIXVector)
        writer.append(configGeneration)
        writer.append(queueSelect)
        writer.append(interruptStatus)
        writer.append(UInt8(live ? 1 : 0))
        writer.append(UInt32(queues.count))
        for queue in queues {
            writer.append(queue.size)
            writer.append(queue.msixVector)
            writer.append(UInt8(queue.enabled ? 1 : 0))
            writer.append(queue.descriptorTable)
            writer.append(queue.driverArea)
            writer.append(queue.deviceArea)
        }
        writer.append(UInt32(queuePositions.count))
        for position in queuePositions {
            writer.append(UInt8(position == nil ? 0 : 1))
            position?.encode(into: &writer)
        }
    }

    public init(from reader: inout ByteReader) throws(SnapshotError) {
        let status = try reader.read(UInt8.self)
        let deviceFeatureSelect = try reader.read(UInt32.self)
        let driverFeatureSelect = try reader.read(UInt32.self)
        let driverFeatures = try reader.read(UInt64.self)
        let configMSIXVector = try reader.read(UInt16.self)
        let configGeneration = try reader.read(UInt8.self)
        let queueSelect = try reader.read(UInt16.self)
        let interruptStatus = try reader.read(UInt8.self)
        let live = try Self.readBool(&reader)
        let queueCount = try Self.readCount(&reader)
        var queues: [QueueRegisters] = []
        for _ in 0..<queueCount {
            queues.append(QueueRegisters(
                size: try reader.read(UInt16.self), msixVector: try reader.read(UInt16.self),
                enabled: try Self.readBool(&reader), descriptorTable: try reader.read(UInt64.self),
                driverArea: try reader.read(UInt64.self), deviceArea: try reader.read(UInt64.self)))
        }
        let positionCount = try Self.readCount(&reader)
        var positions: [VirtqueueState?] = []
        for _ in 0..<positionCount {
            positions.append(try Self.readBool(&reader) ? try VirtqueueState(from: &reader) : nil)
        }
        self.init(
            status: status, deviceFeatureSelect: deviceFeatureSelect, driverFeatureSelect: driverFeatureSelect,
            driverFeatures: driverFeatures, configMSIXVector: configMSIXVector, configGeneration: configGeneration,
            queueSelect: queueSelect, queues: queues, interruptStatus: interruptStatus, live: live,
            queuePositions: positions)
    }

    static func readCount(_ reader: inout ByteReader) throws(SnapshotError) -> Int {
        let count = Int(try reader.read(UInt32.self))
        guard count <= maxQueues else {
            throw .malformedSection(tag: SectionTag.device.rawValue, detail: "\(count) virtio queues")
        }
        return count
    }

    static func readBool(_ reader: inout ByteReader) throws(SnapshotError) -> Bool {
        switch try reader.read(UInt8.self) {
        case 0: return false
        case 1: return true
        case let other:
            throw .malformedSection(tag: SectionTag.device.rawValue, detail: "a flag holds \(other)")
        }
    }
}

extension VirtioPCIState {
    /// MSI-X allows 2048 vectors of 16 bytes; PCI config space is 4 KiB.
    private static let maxTable = 2048 * 16
    private static let maxConfiguration = 4096

    public func encode(into writer: inout ByteWriter) {
        writer.appendSized(configuration)
        writer.appendSized(msix.table)
        writer.appendSized(msix.pending.map { $0 ? 1 : 0 })
        transport.encode(into: &writer)
    }

    public init(from reader: inout ByteReader) throws(SnapshotError) {
        let configuration = try reader.sizedBytes(limit: Self.maxConfiguration)
        let table = try reader.sizedBytes(limit: Self.maxTable)
        let pendingBytes = try reader.sizedBytes(limit: Self.maxTable / 16)
        var pending: [Bool] = []
        for byte in pendingBytes {
            guard byte <= 1 else {
                throw .malformedSection(tag: SectionTag.device.rawValue, detail: "an MSI-X pending bit holds \(byte)")
            }
            pending.append(byte == 1)
        }
        self.init(
            configuration: configuration, msix: MSIXState(table: table, pending: pending),
            transport: try VirtioTransportState(from: &reader))
    }
}
