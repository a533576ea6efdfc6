import CKVM

/// The CPUID fix-ups that make each vCPU know who it is and how many siblings it has:
/// KVM's supported list describes the host, not our machine.
///
/// Our topology is the simplest true one: one package, one core per vCPU, one thread per
/// core. Leaf 1, the x2APIC topology leaves 0xB/0x1F and AMD's 0x80000008/0x8000001E
/// must agree, or Linux's topology code warns and guesses.
struct CPUIDTopology {
    let apicID: Int
    let cpuCount: Int

    /// Bits of the APIC ID that number the cores of the package.
    var coreBits: UInt32 {
        var bits: UInt32 = 0
        while (1 << bits) < cpuCount { bits += 1 }
        return bits
    }

    func apply(to supported: [CPUIDEntry]) -> [CPUIDEntry] {
        var entries: [CPUIDEntry] = []
        // KVM may list only some subleaves of the topology leaves (measured on PVM: 0xB
        // subleaf 0 alone), and a missing subleaf reads as zeros: with no core level,
        // Linux put each vCPU in a package of its own. So they are written whole.
        for function: UInt32 in [0xB, 0x1F] {
            guard let first = supported.first(where: { $0.function == function }) else { continue }
            let flags = first.flags | UInt32(KVM_CPUID_FLAG_SIGNIFCANT_INDEX)
            entries += (0...2).map { topologyLeaf(function: function, subleaf: UInt32($0), flags: flags) }
        }
        for var entry in supported where entry.function != 0xB && entry.function != 0x1F {
            switch entry.function {
            case 0x1:
                // EBX: APIC ID [31:24], logical processors per package [23:16], CLFLUSH
                // line size in 8-byte units [15:8]. ECX bit 31: running under a hypervisor.
                entry.ebx = UInt32(apicID) << 24 | UInt32(cpuCount) << 16 | 8 << 8
                entry.ecx |= 1 << 31
                if cpuCount > 1 { entry.edx |= 1 << 28 } else { entry.edx &= ~(1 << 28) }  // HTT
            case 0x4:
                // Intel deterministic cache parameters: EAX[31:26] = cores per package - 1,
                // EAX[25:14] = threads sharing the cache - 1 (one thread per core).
                entry.eax = entry.eax & 0x3FFF | UInt32(cpuCount - 1) << 26
            case 0x8000_0008:
                // AMD: ECX[7:0] = cores in the package - 1, ECX[15:12] = APIC ID core bits.
                entry.ecx = entry.ecx & ~0xF0FF | coreBits << 12 | UInt32(cpuCount - 1)
            case 0x8000_001E:
                // AMD extended APIC ID, one thread per core, core ID = APIC ID.
                entry.eax = UInt32(apicID)
                entry.ebx = UInt32(apicID) & 0xFF
                entry.ecx = 0
            default: break
            }
            entries.append(entry)
        }
        return entries
    }

    /// Leaf 0xB/0x1F subleaf `subleaf`: level 0 is SMT (one thread), level 1 the cores,
    /// and subleaf 2 ends the list. EDX is always this vCPU's x2APIC ID.
    func topologyLeaf(function: UInt32, subleaf: UInt32, flags: UInt32) -> CPUIDEntry {
        var entry = CPUIDEntry(function: function, index: subleaf, flags: flags, edx: UInt32(apicID))
        switch subleaf {
        case 0:
            entry.eax = 0          // no bits for threads
            entry.ebx = 1          // one thread per core
            entry.ecx = 1 << 8     // level type 1: SMT
        case 1:
            entry.eax = coreBits
            entry.ebx = UInt32(cpuCount)
            entry.ecx = 2 << 8 | 1 // level type 2: core
        default:
            entry.ecx = subleaf    // level type 0: invalid, ends the enumeration
        }
        return entry
    }
}
