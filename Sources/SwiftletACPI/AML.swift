/// One encoded ACPI Machine Language term (ACPI 6.5 §20.2): enough of the language to
/// describe devices and their resources, which is all a DSDT without methods needs.
///
/// Terms are built bottom-up from the static constructors below, e.g.
/// `.device("COM1", [.name("_HID", .eisaID("PNP0501")), ...])`. Names and IDs are
/// constants of the machine builder, never guest or user input.
public struct AML: Sendable, Equatable {
    public let bytes: [UInt8]

    /// Raw, already-encoded AML.
    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    // Opcodes (§20.3 and §20.2.5).
    static let zeroOp: UInt8 = 0x00
    static let oneOp: UInt8 = 0x01
    static let nameOp: UInt8 = 0x08
    static let bytePrefix: UInt8 = 0x0A
    static let wordPrefix: UInt8 = 0x0B
    static let dwordPrefix: UInt8 = 0x0C
    static let stringPrefix: UInt8 = 0x0D
    static let qwordPrefix: UInt8 = 0x0E
    static let scopeOp: UInt8 = 0x10
    static let bufferOp: UInt8 = 0x11
    static let packageOp: UInt8 = 0x12
    static let varPackageOp: UInt8 = 0x13
    static let methodOp: UInt8 = 0x14
    static let returnOp: UInt8 = 0xA4
    static let extOpPrefix: UInt8 = 0x5B
    static let deviceOp: UInt8 = 0x82  // after ExtOpPrefix
    static let dualNamePrefix: UInt8 = 0x2E
    static let multiNamePrefix: UInt8 = 0x2F
    static let rootChar: UInt8 = 0x5C  // '\'
    static let parentPrefixChar: UInt8 = 0x5E  // '^'

    // MARK: Data objects

    /// An integer in the shortest encoding: ZeroOp, OneOp, or a Byte/Word/DWord/QWord prefix.
    public static func integer(_ value: UInt64) -> AML {
        var bytes: [UInt8] = []
        switch value {
        case 0: bytes = [zeroOp]
        case 1: bytes = [oneOp]
        case ...0xFF: bytes = [bytePrefix, UInt8(value)]
        case ...0xFFFF: bytes = [wordPrefix]; bytes.append(le: UInt16(value))
        case ...0xFFFF_FFFF: bytes = [dwordPrefix]; bytes.append(le: UInt32(value))
        default: bytes = [qwordPrefix]; bytes.append(le: value)
        }
        return AML(bytes: bytes)
    }

    /// A NUL-terminated ASCII string.
    public static func string(_ text: String) -> AML {
        AML(bytes: [stringPrefix] + Array(text.utf8) + [0])
    }

    /// A buffer of `contents`.
    public static func buffer(_ contents: [UInt8]) -> AML {
        AML(bytes: [bufferOp] + withPkgLength(integer(UInt64(contents.count)).bytes + contents))
    }

    /// A package of data objects (VarPackageOp when there are more than 255).
    public static func package(_ elements: [AML]) -> AML {
        let list = elements.flatMap(\.bytes)
        if elements.count <= 0xFF {
            return AML(bytes: [packageOp] + withPkgLength([UInt8(elements.count)] + list))
        }
        return AML(bytes: [varPackageOp] + withPkgLength(integer(UInt64(elements.count)).bytes + list))
    }

    /// A package of integers, e.g. `_S5_`'s {5, 5, 0, 0}.
    public static func package(_ integers: [UInt64]) -> AML {
        package(integers.map { integer($0) })
    }

    /// A compressed EISA ID (§6.1.5 "_HID"): "PNP0501" becomes the DWord 0x0105D041,
    /// the form iasl's EisaId() emits. IDs that are not three letters and four hex digits
    /// (ACPI IDs like "QEMU0001" or "ACPI0007") are emitted as strings, which _HID also accepts.
    public static func eisaID(_ id: String) -> AML {
        let chars = Array(id.utf8)
        guard chars.count == 7,
              chars[0..<3].allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }),
              let product = UInt16(String(decoding: chars[3..<7], as: UTF8.self), radix: 16)
        else { return string(id) }
        let vendor = chars[0..<3].reduce(UInt16(0)) { ($0 << 5) | UInt16($1 - 0x40) }
        // Both halves are stored big-endian, so the DWord's bytes read vendor then product.
        let value = UInt32(vendor >> 8) | UInt32(vendor & 0xFF) << 8
            | UInt32(product >> 8) << 16 | UInt32(product & 0xFF) << 24
        return AML(bytes: [dwordPrefix, UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF),
                           UInt8(value >> 16 & 0xFF), UInt8(value >> 24)])
    }

    // MARK: Named objects and scopes

    /// `Name(name, value)`.
    public static func name(_ name: String, _ value: AML) -> AML {
        AML(bytes: [nameOp] + nameString(name) + value.bytes)
    }

    /// `Scope(path) { terms }`.
    public static func scope(_ path: String, _ terms: [AML]) -> AML {
        AML(bytes: [scopeOp] + withPkgLength(nameString(path) + terms.flatMap(\.bytes)))
    }

    /// `Device(name) { terms }`.
    public static func device(_ name: String, _ terms: [AML]) -> AML {
        AML(bytes: [extOpPrefix, deviceOp] + withPkgLength(nameString(name) + terms.flatMap(\.bytes)))
    }

    /// `Method(name, argumentCount, NotSerialized) { terms }`, for constant methods like _STA.
    public static func method(_ name: String, argumentCount: UInt8 = 0, serialized: Bool = false, _ terms: [AML]) -> AML {
        let flags = (argumentCount & 0x7) | (serialized ? 0x08 : 0)
        return AML(bytes: [methodOp] + withPkgLength(nameString(name) + [flags] + terms.flatMap(\.bytes)))
    }

    /// `Return(value)`.
    public static func `return`(_ value: AML) -> AML {
        AML(bytes: [returnOp] + value.bytes)
    }

    /// `Name(_CRS, ResourceTemplate() { descriptors })`'s value: a buffer ending in an End Tag.
    public static func resourceTemplate(_ descriptors: [ResourceDescriptor]) -> AML {
        var contents = descriptors.flatMap { $0.encoded() }
        contents.append(0x79)  // End Tag (§6.4.2.9), small item type 0xF, length 1
        contents.append(ACPIChecksum.fix(contents))
        return buffer(contents)
    }

    // MARK: Encodings

    /// A NameString (§20.2.2): "\\_SB_.COM1", "^PCI0", "_HID". Segments shorter than four
    /// characters are padded with '_' as iasl does.
    static func nameString(_ path: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = Substring(path)
        if rest.first == "\\" {
            bytes.append(rootChar)
            rest = rest.dropFirst()
        }
        while rest.first == "^" {
            bytes.append(parentPrefixChar)
            rest = rest.dropFirst()
        }
        let segments = rest.split(separator: ".").map { segment -> [UInt8] in
            let chars = Array(segment.utf8.prefix(4))
            return chars + [UInt8](repeating: 0x5F, count: 4 - chars.count)
        }
        switch segments.count {
        case 0: bytes.append(0)  // NullName
        case 1: break
        case 2: bytes.append(dualNamePrefix)
        default: bytes += [multiNamePrefix, UInt8(truncatingIfNeeded: segments.count)]
        }
        return bytes + segments.joined()
    }

    /// The largest value a PkgLength can hold: 28 bits.
    public static let maximumPkgLength = 0x0FFF_FFFF

    /// The shortest PkgLength encoding of `length` (§20.2.4), or nil if it needs more than
    /// 28 bits. One byte holds up to 63; longer forms put the byte count in bits 7:6 of
    /// the lead byte, the low nibble in bits 3:0, and the rest in the following bytes.
    public static func pkgLength(_ length: Int) -> [UInt8]? {
        guard length >= 0, length <= maximumPkgLength else { return nil }
        if length <= 0x3F { return [UInt8(length)] }
        let extra = length <= 0xFFF ? 1 : length <= 0xF_FFFF ? 2 : 3
        var bytes = [UInt8(extra << 6) | UInt8(length & 0xF)]
        for i in 0..<extra { bytes.append(UInt8(truncatingIfNeeded: length >> (4 + 8 * i))) }
        return bytes
    }

    /// `payload` prefixed with the PkgLength that covers it and the PkgLength itself.
    static func withPkgLength(_ payload: [UInt8]) -> [UInt8] {
        for size in 1...4 {
            let total = payload.count + size
            if let encoded = pkgLength(total), encoded.count == size {
                return encoded + payload
            }
        }
        // 256 MiB of AML in a table that must fit in 128 KiB: a builder bug, not input.
        preconditionFailure("AML object of \(payload.count) bytes exceeds PkgLength's 28 bits")
    }
}
