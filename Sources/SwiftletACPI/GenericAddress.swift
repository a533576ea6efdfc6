/// A Generic Address Structure (ACPI 6.5 §5.2.3.2): where a fixed register lives.
public struct GenericAddress: Sendable, Equatable {
    public enum Space: UInt8, Sendable {
        case systemMemory = 0
        case systemIO = 1
    }

    public var space: Space
    public var bitWidth: UInt8
    public var bitOffset: UInt8
    /// 1 byte, 2 word, 3 dword, 4 qword.
    public var accessSize: UInt8
    public var address: UInt64

    public init(space: Space, bitWidth: UInt8, bitOffset: UInt8 = 0, accessSize: UInt8, address: UInt64) {
        self.space = space
        self.bitWidth = bitWidth
        self.bitOffset = bitOffset
        self.accessSize = accessSize
        self.address = address
    }

    /// An 8-bit register in port I/O space, accessed a byte at a time.
    public static func ioPort8(_ port: UInt16) -> GenericAddress {
        GenericAddress(space: .systemIO, bitWidth: 8, accessSize: 1, address: UInt64(port))
    }

    /// The all-zero structure: "this register does not exist".
    public static let none = GenericAddress(space: .systemMemory, bitWidth: 0, accessSize: 0, address: 0)

    public static let size = 12

    func append(to bytes: inout [UInt8]) {
        bytes.append(space.rawValue)
        bytes.append(bitWidth)
        bytes.append(bitOffset)
        bytes.append(accessSize)
        bytes.append(le: address)
    }
}
