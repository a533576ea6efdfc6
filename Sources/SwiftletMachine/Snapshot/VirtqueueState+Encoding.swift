import SwiftletDevices
import SwiftletMemory
import SwiftletSnapshot

/// A virtqueue's position in a `DEV ` section. The devices layer hands over a plain
/// `VirtqueueState` and knows nothing of the file format; the bytes are written here.
extension VirtqueueState {
    /// Bit 0: event index; bit 1: indirect descriptors; bit 2: notifications enabled.
    private static let flagEventIndex: UInt8 = 1 << 0
    private static let flagIndirect: UInt8 = 1 << 1
    private static let flagNotifications: UInt8 = 1 << 2
    private static let knownFlags: UInt8 = 0b111

    public func encode(into writer: inout ByteWriter) {
        writer.append(configuration.size)
        writer.append(configuration.descriptorTable.value)
        writer.append(configuration.availRing.value)
        writer.append(configuration.usedRing.value)
        writer.append(configuration.maxChainBytes)
        var flags: UInt8 = 0
        if configuration.eventIndex { flags |= Self.flagEventIndex }
        if configuration.indirectDescriptors { flags |= Self.flagIndirect }
        if notificationsEnabled { flags |= Self.flagNotifications }
        writer.append(flags)
        writer.append(nextAvailIndex)
        writer.append(nextUsedIndex)
        writer.append(signalledUsedIndex)
    }

    /// Reads what `encode` wrote. Addresses are not checked here: `Virtqueue(memory:state:)`
    /// checks them against guest RAM as it would a driver's.
    public init(from reader: inout ByteReader) throws(SnapshotError) {
        let size = try reader.read(UInt16.self)
        let descriptors = try reader.read(UInt64.self)
        let avail = try reader.read(UInt64.self)
        let used = try reader.read(UInt64.self)
        let maxChainBytes = try reader.read(UInt64.self)
        let flags = try reader.read(UInt8.self)
        guard flags & ~Self.knownFlags == 0 else {
            throw .malformedSection(
                tag: SectionTag.device.rawValue, detail: "a virtqueue has unknown flags \(flags)")
        }
        let configuration = VirtqueueConfiguration(
            size: size, descriptorTable: GuestAddress(descriptors), availRing: GuestAddress(avail),
            usedRing: GuestAddress(used), eventIndex: flags & Self.flagEventIndex != 0,
            indirectDescriptors: flags & Self.flagIndirect != 0, maxChainBytes: maxChainBytes)
        self.init(
            configuration: configuration, nextAvailIndex: try reader.read(UInt16.self),
            nextUsedIndex: try reader.read(UInt16.self), signalledUsedIndex: try reader.read(UInt16.self),
            notificationsEnabled: flags & Self.flagNotifications != 0)
    }
}
