import SwiftletMemory

/// The global descriptor table the vCPU starts with, at 0x500 per the guest contract.
/// Linux loads its own GDT within a few instructions; this one only has to make the
/// 64-bit entry state describable and architecturally valid.
public enum GDT {
    public static let address = BootLayout.gdt

    public static let codeSelector: UInt16 = 0x10
    public static let dataSelector: UInt16 = 0x18
    public static let taskSelector: UInt16 = 0x20

    /// 64-bit code: present, DPL 0, execute/read, L=1, G=1.
    public static let code64: UInt64 = 0x00AF_9B00_0000_FFFF
    /// Data: present, DPL 0, read/write, D/B=1, G=1, flat 4 GiB.
    public static let data: UInt64 = 0x00CF_9300_0000_FFFF
    /// A busy 64-bit TSS of 0x68 bytes at 0: VM entry insists TR holds one. Its 16-byte
    /// descriptor's upper half (base bits 63:32) is zero.
    public static let task64: UInt64 = 0x0000_8B00_0000_0067

    /// null, null, code (0x10), data (0x18), TSS (0x20, two slots).
    public static let entries: [UInt64] = [0, 0, code64, data, task64, 0]

    /// GDTR.limit: the last valid byte.
    public static var limit: UInt16 { UInt16(entries.count * 8 - 1) }

    public static func write(to memory: GuestMemory) throws(GuestMemoryError) {
        for (index, entry) in entries.enumerated() {
            try memory.write(entry.littleEndian, at: GuestAddress(address.value + UInt64(index) * 8))
        }
    }
}
