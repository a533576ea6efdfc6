import SwiftletDevices
import SwiftletSnapshot

/// One device's state, as one `DEV ` section: which device (its kind and the name the
/// machine gave it, so a restore matches sections to the devices it rebuilt from `CONF`
/// and refuses a mismatch) and its state.
public struct DeviceSnapshot: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case virtioPCI(VirtioPCIState)
        case virtioMMIO(VirtioTransportState)
        case serial(Serial8250State)
        case cmos(CMOSRTCState)

        var kind: UInt8 {
            switch self {
            case .virtioPCI: 1
            case .virtioMMIO: 2
            case .serial: 3
            case .cmos: 4
            }
        }
    }

    /// Device names are short ("virtio-blk-rootfs"); anything longer is not ours.
    static let maxName = 256

    public var name: String
    public var state: State

    public init(name: String, state: State) {
        self.name = name
        self.state = state
    }

    public var section: SnapshotSection {
        var writer = ByteWriter()
        writer.append(state.kind)
        writer.appendSized(Array(name.utf8))
        switch state {
        case .virtioPCI(let s): s.encode(into: &writer)
        case .virtioMMIO(let s): s.encode(into: &writer)
        case .serial(let s): s.encode(into: &writer)
        case .cmos(let s): s.encode(into: &writer)
        }
        return SnapshotSection(.device, payload: writer.bytes)
    }

    /// Reads a `DEV ` section whole: a section with bytes left over is refused.
    public init(_ section: SnapshotSection) throws(SnapshotError) {
        guard section.tag == .device else {
            throw .malformedSection(tag: section.tag.rawValue, detail: "not a device section")
        }
        var reader = ByteReader(section)
        let kind = try reader.read(UInt8.self)
        let nameBytes = try reader.sizedBytes(limit: Self.maxName)
        guard let name = String(validating: nameBytes, as: UTF8.self) else {
            throw .malformedSection(tag: section.tag.rawValue, detail: "a device name is not UTF-8")
        }
        let state: State
        switch kind {
        case 1: state = .virtioPCI(try VirtioPCIState(from: &reader))
        case 2: state = .virtioMMIO(try VirtioTransportState(from: &reader))
        case 3: state = .serial(try Serial8250State(from: &reader))
        case 4: state = .cmos(try CMOSRTCState(from: &reader))
        default:
            throw .malformedSection(tag: section.tag.rawValue, detail: "unknown device kind \(kind)")
        }
        try reader.finish()
        self.init(name: name, state: state)
    }
}
