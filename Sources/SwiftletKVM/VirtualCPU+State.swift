#if canImport(Glibc)
import Glibc
#endif
import CKVM

extension VirtualCPU {
    // MARK: General-purpose registers

    public func registers() throws(KVMError) -> Registers {
        var r = kvm_regs()
        try fd.ioctl(CKVM_GET_REGS, &r, "read vCPU \(id)'s registers")
        var out = Registers()
        out.rax = r.rax; out.rbx = r.rbx; out.rcx = r.rcx; out.rdx = r.rdx
        out.rsi = r.rsi; out.rdi = r.rdi; out.rsp = r.rsp; out.rbp = r.rbp
        out.r8 = r.r8; out.r9 = r.r9; out.r10 = r.r10; out.r11 = r.r11
        out.r12 = r.r12; out.r13 = r.r13; out.r14 = r.r14; out.r15 = r.r15
        out.rip = r.rip; out.rflags = r.rflags
        return out
    }

    public func setRegisters(_ v: Registers) throws(KVMError) {
        var r = kvm_regs(rax: v.rax, rbx: v.rbx, rcx: v.rcx, rdx: v.rdx, rsi: v.rsi, rdi: v.rdi,
                         rsp: v.rsp, rbp: v.rbp, r8: v.r8, r9: v.r9, r10: v.r10, r11: v.r11,
                         r12: v.r12, r13: v.r13, r14: v.r14, r15: v.r15, rip: v.rip, rflags: v.rflags)
        try fd.ioctl(CKVM_SET_REGS, &r, "set vCPU \(id)'s registers")
    }

    // MARK: Segments and control registers

    /// Loads the state of a 64-bit entry; the rest of kvm_sregs keeps KVM's reset values.
    public func setEntryState(_ e: EntryState) throws(KVMError) {
        var s = kvm_sregs()
        try fd.ioctl(CKVM_GET_SREGS, &s, "read vCPU \(id)'s special registers")
        s.cs = Self.kvmSegment(e.code)
        s.ds = Self.kvmSegment(e.data); s.es = s.ds; s.fs = s.ds; s.gs = s.ds; s.ss = s.ds
        s.tr = Self.kvmSegment(e.task)
        s.gdt = kvm_dtable(base: e.gdtBase, limit: e.gdtLimit, padding: (0, 0, 0))
        s.idt = kvm_dtable(base: e.idtBase, limit: e.idtLimit, padding: (0, 0, 0))
        s.cr0 = e.cr0; s.cr3 = e.cr3; s.cr4 = e.cr4; s.efer = e.efer
        try fd.ioctl(CKVM_SET_SREGS, &s, "set vCPU \(id)'s special registers")
    }

    /// CR0, CR3, CR4, EFER and CS, for messages and for finding the instruction at RIP.
    public func controlState() throws(KVMError) -> ControlState {
        var s = kvm_sregs()
        try fd.ioctl(CKVM_GET_SREGS, &s, "read vCPU \(id)'s special registers")
        return ControlState(cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer, codeSelector: s.cs.selector)
    }

    static func kvmSegment(_ s: Segment) -> kvm_segment {
        var k = kvm_segment()
        k.base = s.base; k.limit = s.limit; k.selector = s.selector; k.type = s.type
        k.present = s.present ? 1 : 0; k.dpl = s.dpl; k.db = s.db ? 1 : 0
        k.s = s.s ? 1 : 0; k.l = s.l ? 1 : 0; k.g = s.g ? 1 : 0
        return k
    }

    /// The guest-physical address behind guest-virtual `address` under the current page
    /// tables, or nil where nothing is mapped.
    public func translate(_ address: UInt64) throws(KVMError) -> UInt64? {
        var t = kvm_translation()
        t.linear_address = address
        try fd.ioctl(CKVM_TRANSLATE, &t, "translate a guest address")
        return t.valid != 0 ? t.physical_address : nil
    }

    // MARK: CPUID, MSRs, FPU

    public func setCPUID(_ entries: [CPUIDEntry]) throws(KVMError) {
        let list = try CPUIDList(entries)
        try fd.ioctl(CKVM_SET_CPUID2, list.raw, "set vCPU \(id)'s CPUID")
    }

    /// Sets each MSR, all or nothing: KVM stops at the first it refuses and returns how
    /// many it took, so a short count names the culprit.
    public func setMSRs(_ msrs: [(index: UInt32, value: UInt64)]) throws(KVMError) {
        guard !msrs.isEmpty else { return }
        let header = MemoryLayout<kvm_msrs>.size, stride = MemoryLayout<kvm_msr_entry>.stride
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: header + msrs.count * stride, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: header + msrs.count * stride)
        buffer.storeBytes(of: UInt32(msrs.count), as: UInt32.self)
        for (i, msr) in msrs.enumerated() {
            var entry = kvm_msr_entry()
            entry.index = msr.index
            entry.data = msr.value
            (buffer + header + i * stride).storeBytes(of: entry, as: kvm_msr_entry.self)
        }
        let taken = try fd.ioctl(CKVM_SET_MSRS, buffer, "set vCPU \(id)'s MSRs")
        if Int(taken) < msrs.count {
            let refused = msrs[Int(taken)].index
            throw .partial(what: "set MSRs", detail: "vCPU \(id) took \(taken) of \(msrs.count); MSR 0x\(String(refused, radix: 16)) was refused")
        }
    }

    /// The x87/SSE state of a freshly reset CPU (FNINIT's control word, default MXCSR),
    /// which KVM leaves zeroed: a zero control word unmasks every x87 exception.
    public func resetFPU() throws(KVMError) {
        var fpu = kvm_fpu()
        fpu.fcw = 0x37f
        fpu.mxcsr = 0x1f80
        try fd.ioctl(CKVM_SET_FPU, &fpu, "set vCPU \(id)'s FPU state")
    }

    // MARK: Local APIC and events

    /// Wires LINT0 to the PIC (ExtINT) and LINT1 to NMI, as a PC's firmware does: Linux
    /// expects the legacy PIC's interrupts to arrive through LINT0 in virtual-wire mode.
    public func configureLocalAPICLines() throws(KVMError) {
        var lapic = kvm_lapic_state()
        try fd.ioctl(CKVM_GET_LAPIC, &lapic, "read vCPU \(id)'s local APIC")
        withUnsafeMutableBytes(of: &lapic.regs) { regs in
            let lint0 = 0x350, lint1 = 0x360
            let deliveryModeMask: UInt32 = 0x700, extINT: UInt32 = 0x700, nmi: UInt32 = 0x400
            let l0 = regs.loadUnaligned(fromByteOffset: lint0, as: UInt32.self)
            regs.storeBytes(of: (l0 & ~deliveryModeMask) | extINT, toByteOffset: lint0, as: UInt32.self)
            let l1 = regs.loadUnaligned(fromByteOffset: lint1, as: UInt32.self)
            regs.storeBytes(of: (l1 & ~deliveryModeMask) | nmi, toByteOffset: lint1, as: UInt32.self)
        }
        try fd.ioctl(CKVM_SET_LAPIC, &lapic, "set vCPU \(id)'s local APIC")
    }

    /// Delivers exception `vector` (no error code) as if the instruction before RIP had
    /// raised it: how we finish an INT3 that KVM's emulator could not run.
    public func injectException(vector: UInt8) throws(KVMError) {
        var events = kvm_vcpu_events()
        try fd.ioctl(CKVM_GET_VCPU_EVENTS, &events, "read vCPU \(id)'s events")
        events.exception.injected = 1
        events.exception.nr = vector
        events.exception.has_error_code = 0
        events.exception.error_code = 0
        events.flags = 0
        try fd.ioctl(CKVM_SET_VCPU_EVENTS, &events, "inject an exception into vCPU \(id)")
    }
}

extension VirtualCPU {
    /// The x87 status word: bit 7 (ES) says an unmasked x87 exception is pending, which
    /// is what FWAIT would raise as #MF.
    public func x87StatusWord() throws(KVMError) -> UInt16 {
        var fpu = kvm_fpu()
        try fd.ioctl(CKVM_GET_FPU, &fpu, "read vCPU \(id)'s FPU state")
        return fpu.fsw
    }
}
