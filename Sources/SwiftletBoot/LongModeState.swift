/// The vCPU's system state at the 64-bit entry: everything except the general-purpose
/// registers, in a form the KVM layer copies into kvm_sregs without decoding anything.
public struct LongModeState: Equatable, Sendable {
    // CR0: protection and paging, plus what a modern OS expects to find set.
    public static let cr0PE: UInt64 = 1 << 0
    public static let cr0MP: UInt64 = 1 << 1
    public static let cr0ET: UInt64 = 1 << 4
    public static let cr0NE: UInt64 = 1 << 5
    public static let cr0WP: UInt64 = 1 << 16
    public static let cr0PG: UInt64 = 1 << 31
    public static let cr4PAE: UInt64 = 1 << 5
    public static let eferLME: UInt64 = 1 << 8
    public static let eferLMA: UInt64 = 1 << 10

    public var cr0: UInt64
    public var cr3: UInt64
    public var cr4: UInt64
    public var efer: UInt64

    public var cs: SegmentRegister
    public var ds: SegmentRegister
    public var es: SegmentRegister
    public var fs: SegmentRegister
    public var gs: SegmentRegister
    public var ss: SegmentRegister
    public var tr: SegmentRegister
    public var ldt: SegmentRegister

    public var gdtBase: UInt64
    public var gdtLimit: UInt16
    /// No IDT: interrupts are off and Linux installs its own before enabling them.
    public var idtBase: UInt64
    public var idtLimit: UInt16

    /// Long mode with paging through `PageTables`, CS = 0x10, the rest 0x18, TR = 0x20.
    public static let entry: LongModeState = {
        let data = SegmentRegister(selector: GDT.dataSelector, descriptor: GDT.data)
        return LongModeState(
            cr0: cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0PG,
            cr3: PageTables.root.value,
            cr4: cr4PAE,
            efer: eferLME | eferLMA,
            cs: SegmentRegister(selector: GDT.codeSelector, descriptor: GDT.code64),
            ds: data, es: data, fs: data, gs: data, ss: data,
            tr: SegmentRegister(selector: GDT.taskSelector, descriptor: GDT.task64),
            ldt: .unusableLDT,
            gdtBase: GDT.address.value, gdtLimit: GDT.limit,
            idtBase: 0, idtLimit: 0)
    }()
}
