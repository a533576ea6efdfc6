/// One Base Address Register as the device declares it (PCI Local Bus 3.0 section 6.2.5.1).
///
/// Only memory BARs: every Swiftlet PCI device lives in the 32-bit MMIO window, and
/// x86 port I/O is reserved for the legacy devices.
public struct PCIBAR: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// One register; the address lies below 4 GiB.
        case memory32
        /// Two registers (this one and the next) holding a 64-bit address.
        case memory64
    }

    /// 0...5: which register (for a 64-bit BAR, the low one).
    public let index: Int
    /// Bytes decoded: a power of two of at least 16.
    public let size: UInt64
    public let kind: Kind
    public let prefetchable: Bool

    public init(index: Int, size: UInt64, kind: Kind, prefetchable: Bool = false) {
        self.index = index
        self.size = size
        self.kind = kind
        self.prefetchable = prefetchable
    }

    /// The read-only low bits of the register: type (bits 2:1) and prefetchable (bit 3).
    var typeBits: UInt32 {
        (kind == .memory64 ? 0x4 : 0) | (prefetchable ? 0x8 : 0)
    }

    /// Config-space offset of the (low) register.
    var registerOffset: Int { PCIConfigurationSpace.barOffset + 4 * index }
    /// Registers used: 4 or 8 bytes.
    var registerBytes: Int { kind == .memory64 ? 8 : 4 }
}
