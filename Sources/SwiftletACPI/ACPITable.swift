/// One System Description Table: the 36-byte header of ACPI 6.5 §5.2.6 followed by a body.
///
/// Tables are values until `ACPITables` places them; only then are pointers between
/// them known. Extra tables (MCFG for PCI, say) are built as `ACPITable`s and passed in.
public struct ACPITable: Sendable, Equatable {
    /// The four-character signature, "FACP", "APIC", "MCFG", ...
    public var signature: String
    public var revision: UInt8
    /// Everything after the header.
    public var body: [UInt8]

    public init(signature: String, revision: UInt8, body: [UInt8]) {
        self.signature = signature
        self.revision = revision
        self.body = body
    }

    /// Header plus body.
    public var length: Int { ACPITable.headerSize + body.count }

    public static let headerSize = 36
    /// Identifies the firmware vendor in every header; six bytes.
    public static let oemID = "SWIFTL"
    /// Identifies the table set; eight bytes.
    public static let oemTableID = "SWIFTLET"
    public static let oemRevision: UInt32 = 1
    /// The "ASL compiler" that made the tables: us.
    public static let creatorID = "SWFT"
    public static let creatorRevision: UInt32 = 1

    /// The complete table with its length and checksum filled in.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        bytes.append(ascii: signature, width: 4)
        bytes.append(le: UInt32(truncatingIfNeeded: length))
        bytes.append(revision)
        bytes.append(0)  // checksum, fixed below
        bytes.append(ascii: ACPITable.oemID, width: 6)
        bytes.append(ascii: ACPITable.oemTableID, width: 8)
        bytes.append(le: ACPITable.oemRevision)
        bytes.append(ascii: ACPITable.creatorID, width: 4)
        bytes.append(le: ACPITable.creatorRevision)
        bytes += body
        bytes[9] = ACPIChecksum.fix(bytes)
        return bytes
    }
}
