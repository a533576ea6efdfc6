/// What a section holds. Tags are four ASCII bytes read as a little-endian number, so a
/// hex dump of a snapshot names its sections.
///
/// Each section says in its flags whether a reader may skip it: a newer Swiftlet may add
/// optional sections (hints, statistics) that an older one ignores, while an unknown
/// required one stops the restore, since running without that state would be wrong.
public struct SectionTag: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// A tag from its four-character name ("VCPU").
    public init(_ name: StaticString) {
        var value: UInt32 = 0
        name.withUTF8Buffer { bytes in
            for (i, byte) in bytes.prefix(4).enumerated() { value |= UInt32(byte) << (8 * UInt32(i)) }
        }
        rawValue = value
    }

    /// The host requirements: CPU template and the CPUID the guest saw.
    public static let host = SectionTag("HOST")
    /// One vCPU's KVM state; one section per vCPU, in vCPU order.
    public static let vcpu = SectionTag("VCPU")
    /// The VM's KVM state: PIC, IOAPIC, PIT, kvmclock.
    public static let vm = SectionTag("KVM ")
    /// The guest-physical RAM layout the memory file follows.
    public static let memory = SectionTag("MEM ")
    /// The machine configuration the devices are rebuilt from.
    public static let config = SectionTag("CONF")
    /// One device's state (transport, queues, device-specific).
    public static let device = SectionTag("DEV ")

    public var description: String { Self.name(rawValue) }

    /// The tag's four characters where they are printable, else its number.
    static func name(_ raw: UInt32) -> String {
        if raw == 0 { return "header" }
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: raw >> (8 * $0)) }
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) {
            return "\"" + String(decoding: bytes, as: UTF8.self) + "\""
        }
        return "0x" + String(raw, radix: 16)
    }
}

/// One section: its tag, whether a reader must understand it, and its bytes.
public struct SnapshotSection: Equatable, Sendable {
    public var tag: SectionTag
    public var required: Bool
    public var payload: [UInt8]

    public init(_ tag: SectionTag, required: Bool = true, payload: [UInt8]) {
        self.tag = tag
        self.required = required
        self.payload = payload
    }
}
