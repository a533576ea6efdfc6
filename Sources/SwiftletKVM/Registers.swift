/// The general-purpose registers, as KVM_GET/SET_REGS moves them.
public struct Registers: Equatable, Sendable {
    public var rax: UInt64 = 0, rbx: UInt64 = 0, rcx: UInt64 = 0, rdx: UInt64 = 0
    public var rsi: UInt64 = 0, rdi: UInt64 = 0, rsp: UInt64 = 0, rbp: UInt64 = 0
    public var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    public var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    public var rip: UInt64 = 0
    /// Bit 1 is reserved and always set on x86.
    public var rflags: UInt64 = 0x2
    public init() {}
}

/// A segment register's hidden state: what a descriptor would have loaded.
public struct Segment: Equatable, Sendable {
    public var base: UInt64
    public var limit: UInt32
    public var selector: UInt16
    public var type: UInt8
    public var present: Bool
    public var dpl: UInt8
    /// Default operand size (D/B): 32-bit when set.
    public var db: Bool
    /// Code or data (S) rather than a system segment.
    public var s: Bool
    /// 64-bit code (L).
    public var l: Bool
    /// Granularity: limit in 4 KiB units.
    public var g: Bool

    public init(base: UInt64, limit: UInt32, selector: UInt16, type: UInt8, present: Bool,
                dpl: UInt8, db: Bool, s: Bool, l: Bool, g: Bool) {
        self.base = base; self.limit = limit; self.selector = selector; self.type = type
        self.present = present; self.dpl = dpl; self.db = db; self.s = s; self.l = l; self.g = g
    }
}

/// The control state a 64-bit entry needs: segments, descriptor tables, CRs and EFER.
/// Everything else in kvm_sregs keeps KVM's reset values.
public struct EntryState: Equatable, Sendable {
    public var code: Segment
    public var data: Segment
    /// The task register: VMX insists on a busy 64-bit TSS even if nothing uses it.
    public var task: Segment
    public var gdtBase: UInt64, gdtLimit: UInt16
    public var idtBase: UInt64, idtLimit: UInt16
    public var cr0: UInt64, cr3: UInt64, cr4: UInt64, efer: UInt64

    public init(code: Segment, data: Segment, task: Segment, gdtBase: UInt64, gdtLimit: UInt16,
                idtBase: UInt64, idtLimit: UInt16, cr0: UInt64, cr3: UInt64, cr4: UInt64, efer: UInt64) {
        self.code = code; self.data = data; self.task = task
        self.gdtBase = gdtBase; self.gdtLimit = gdtLimit; self.idtBase = idtBase; self.idtLimit = idtLimit
        self.cr0 = cr0; self.cr3 = cr3; self.cr4 = cr4; self.efer = efer
    }
}

/// The control registers and EFER at a moment, for messages and address translation.
public struct ControlState: Equatable, Sendable {
    public var cr0: UInt64, cr3: UInt64, cr4: UInt64, efer: UInt64
    /// The current code segment selector; its low two bits are the privilege level.
    public var codeSelector: UInt16
}
