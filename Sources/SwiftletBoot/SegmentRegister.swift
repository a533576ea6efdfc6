/// A segment register's hidden state, spelled out field by field so the KVM layer can fill
/// a kvm_segment without knowing how a GDT descriptor packs them (Intel SDM vol. 3,
/// 3.4.5 "Segment Descriptors").
public struct SegmentRegister: Equatable, Sendable {
    public var selector: UInt16
    public var base: UInt64
    /// The limit in bytes, already scaled by the granularity bit, as kvm_segment wants it.
    public var limit: UInt32
    /// The 4-bit type field (0xB: execute/read, accessed; 0x3: read/write, accessed).
    public var type: UInt8
    public var present: Bool
    public var dpl: UInt8
    /// D/B: 32-bit default operand size (must be clear for a 64-bit code segment).
    public var db: Bool
    /// S: code or data rather than a system segment.
    public var s: Bool
    /// L: 64-bit code.
    public var l: Bool
    /// G: limit counts 4 KiB pages.
    public var g: Bool
    public var avl: Bool
    /// KVM's flag for a null or never-loaded register (the LDT here).
    public var unusable: Bool

    /// Decodes the 8-byte descriptor `descriptor`, as loading `selector` would.
    public init(selector: UInt16, descriptor: UInt64) {
        self.selector = selector
        base = (descriptor >> 16) & 0xFF_FFFF | ((descriptor >> 56) & 0xFF) << 24
        let rawLimit = UInt32(descriptor & 0xFFFF) | UInt32((descriptor >> 48) & 0xF) << 16
        g = (descriptor >> 55) & 1 == 1
        limit = g ? rawLimit << 12 | 0xFFF : rawLimit
        type = UInt8((descriptor >> 40) & 0xF)
        s = (descriptor >> 44) & 1 == 1
        dpl = UInt8((descriptor >> 45) & 0x3)
        present = (descriptor >> 47) & 1 == 1
        avl = (descriptor >> 52) & 1 == 1
        l = (descriptor >> 53) & 1 == 1
        db = (descriptor >> 54) & 1 == 1
        unusable = false
    }

    /// A register that holds nothing: what the LDT register is at entry.
    public static let unusableLDT: SegmentRegister = {
        var segment = SegmentRegister(selector: 0, descriptor: 0)
        segment.type = 0x2  // LDT, so the VM-entry checks are satisfied even unused
        segment.unusable = true
        return segment
    }()
}
