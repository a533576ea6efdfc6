/// The MSR values a vCPU starts with, as firmware would leave them for a 64-bit kernel.
public enum BootMSRs {
    static let wanted: [(index: UInt32, value: UInt64)] = [
        (0x174, 0),                 // IA32_SYSENTER_CS
        (0x175, 0),                 // IA32_SYSENTER_ESP
        (0x176, 0),                 // IA32_SYSENTER_EIP
        (0xC000_0081, 0),           // STAR
        (0xC000_0082, 0),           // LSTAR
        (0xC000_0083, 0),           // CSTAR
        (0xC000_0084, 0),           // SYSCALL_MASK
        (0xC000_0102, 0),           // KERNEL_GS_BASE
        (0x10, 0),                  // IA32_TSC: every vCPU starts its clock together
        (0x1A0, 1),                 // IA32_MISC_ENABLE: fast strings, as firmware sets
        (0x2FF, 1 << 11 | 6),       // MTRRdefType: MTRRs on, default write-back
    ]

    /// The wanted MSRs that `supported` (KVM_GET_MSR_INDEX_LIST) lists. KVM refuses MSRs
    /// it does not list on some hosts (PVM refuses IA32_ARCH_CAPABILITIES), so we never
    /// set one it has not promised to take.
    public static func values(supported: [UInt32]) -> [(index: UInt32, value: UInt64)] {
        let listed = Set(supported)
        return wanted.filter { listed.contains($0.index) }
    }
}
