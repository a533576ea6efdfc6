/// The shape of the CPU a guest sees, as Firecracker's CPU templates shape it: a function
/// from KVM's supported CPUID leaves to the leaves we hand the guest.
public enum CPUTemplate: String, CaseIterable, Sendable {
    /// Everything KVM supports.
    case host
    /// Hides what an instruction-emulating KVM (PVM) cannot execute in guest ring 0:
    /// CMPXCHG16B, POPCNT, SMAP (CLAC/STAC), FSGSBASE, XSAVE with all that needs it, and
    /// SSSE3 (measured: Debian's kernel stops at BLAKE2s's LDMXCSR/SSSE3 code otherwise).
    /// On such a host Linux otherwise stops at its first use with an emulation failure.
    /// It also hides KVM's paravirtual features that are hypercalls (PV IPIs, sched
    /// yield, spinlock kicks): PVM's emulator never completes a guest's hypercall.
    case conservative

    /// What `--help` says of each.
    public var summary: String {
        switch self {
        case .host: "all that KVM supports"
        case .conservative: "hides CMPXCHG16B, POPCNT, SMAP, FSGSBASE, XSAVE/AVX, SSSE3, KVM hypercalls; on PVM also ERMS/FSRM (default there)"
        }
    }

    /// Kernel arguments that make Linux itself ignore what the template hides, for hosts
    /// where KVM_SET_CPUID2 cannot hide it. PVM answers CPUID from the hardware for every
    /// bit KVM does not itself list as supported (measured: POPCNT, XSAVE, SMAP and
    /// FSGSBASE stay visible whatever we set), so there the conservative template also
    /// tells Linux: noxsave, and clearcpuid for SSSE3 (4*32+9), POPCNT (4*32+23), FSGSBASE
    /// (9*32+0) and SMAP (9*32+20). CMPXCHG16B is one of KVM's bits, hidden by CPUID alone.
    ///
    /// It also clears ERMS (9*32+9) and FSRM (18*32+4), which the emulator can run but
    /// slowly: with them Linux clears and copies memory with `rep stosb`/`rep movsb`, and
    /// the emulator pays for every byte what `rep stosq`/`rep movsq` (Linux's choice
    /// without them) pays for eight. Measured, five interleaved pairs: the test kernel
    /// reached "Run /init" in 76.9 s without them against 86.4 s with them (medians).
    public func kernelArguments(onPVM isPVM: Bool) -> [String] {
        guard self == .conservative, isPVM else { return [] }
        return ["noxsave", "clearcpuid=137,151,288,297,308,580"]
    }

    /// The template to use when the user names none.
    public static func defaultTemplate(isPVM: Bool) -> CPUTemplate { isPVM ? .conservative : .host }

    /// Feature bits the conservative template clears, per (leaf, subleaf, register).
    static let conservativeMasks: [(function: UInt32, index: UInt32, register: CPUIDEntry.Register, bits: UInt32)] = [
        // Leaf 1 ECX: SSSE3(9) FMA(12) CX16(13) POPCNT(23) XSAVE(26) OSXSAVE(27) AVX(28)
        // F16C(29). FMA, AVX and F16C need XSAVE-managed state, so they go with it; SSSE3
        // is what Linux's built-in BLAKE2s (the random driver) reaches for, in ring 0.
        (1, 0, .ecx, 1 << 9 | 1 << 12 | 1 << 13 | 1 << 23 | 1 << 26 | 1 << 27 | 1 << 28 | 1 << 29),
        // Leaf 7 EBX: FSGSBASE(0) AVX2(5) AVX512F(16) AVX512DQ(17) SMAP(20) AVX512IFMA(21)
        // AVX512PF(26) AVX512ER(27) AVX512CD(28) AVX512BW(30) AVX512VL(31).
        (7, 0, .ebx, 1 << 0 | 1 << 5 | 1 << 16 | 1 << 17 | 1 << 20 | 1 << 21 | 1 << 26 | 1 << 27 | 1 << 28 | 1 << 30 | 1 << 31),
        // Leaf 7 ECX: AVX512_VBMI(1) AVX512_VBMI2(6) GFNI(8) VAES(9) VPCLMULQDQ(10)
        // AVX512_VNNI(11) AVX512_BITALG(12) AVX512_VPOPCNTDQ(14): AVX-encoded or AVX-512.
        (7, 0, .ecx, 1 << 1 | 1 << 6 | 1 << 8 | 1 << 9 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 14),
        // Leaf 7 subleaf 1 EAX: AVX_VNNI(4) AVX512_BF16(5).
        (7, 1, .eax, 1 << 4 | 1 << 5),
        // KVM's feature leaf EAX: PV_UNHALT(7), PV_SEND_IPI(11), PV_SCHED_YIELD(13), the
        // features Linux drives with VMCALL/VMMCALL. On PVM the emulator re-executes a
        // guest's hypercall forever (measured with the kvm_emulate_insn tracepoint: an AP
        // spinning on VMCALL in __send_ipi_mask, the BSP on the lock it held), so Linux
        // hung as soon as it had a second CPU to send an IPI to. Without them it uses the
        // LAPIC's ICR, which KVM's in-kernel LAPIC serves. The MSR-based features
        // (kvmclock, steal time, PV EOI, async PF) stay: they work there.
        (0x4000_0001, 0, .eax, 1 << 7 | 1 << 11 | 1 << 13),
    ]

    /// The guest's CPUID for vCPU `apicID` of `cpuCount`, from KVM's supported leaves.
    public func apply(to supported: [CPUIDEntry], apicID: Int, cpuCount: Int) -> [CPUIDEntry] {
        var entries = supported
        if self == .conservative {
            // Without XSAVE there is no XSAVE state to enumerate.
            entries.removeAll { $0.function == 0xD }
            for mask in Self.conservativeMasks {
                for i in entries.indices where entries[i].function == mask.function && entries[i].index == mask.index {
                    entries[i].clear(mask.register, mask.bits)
                }
            }
        }
        return CPUIDTopology(apicID: apicID, cpuCount: cpuCount).apply(to: entries)
    }
}

extension CPUIDEntry {
    /// Names one of the four output registers.
    public enum Register: Sendable { case eax, ebx, ecx, edx }

    mutating func clear(_ register: Register, _ bits: UInt32) {
        switch register {
        case .eax: eax &= ~bits
        case .ebx: ebx &= ~bits
        case .ecx: ecx &= ~bits
        case .edx: edx &= ~bits
        }
    }
}
