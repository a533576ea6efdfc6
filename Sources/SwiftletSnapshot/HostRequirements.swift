import SwiftletKVM

/// What a snapshot needs from the host that restores it: the CPU template its guest was
/// built with and the CPUID every vCPU saw. A guest that has seen a feature keeps using
/// it after a restore, so a host that cannot offer it must refuse before anything runs.
public struct HostRequirements: Equatable, Sendable {
    /// The template's name (`CPUTemplate.rawValue`), compared as text so that a template
    /// this Swiftlet no longer has is reported, not misread.
    public var template: String
    /// Each vCPU's CPUID (KVM_GET_CPUID2), in vCPU order.
    public var cpuid: [[CPUIDEntry]]

    public init(template: String, cpuid: [[CPUIDEntry]]) {
        self.template = template
        self.cpuid = cpuid
    }

    /// Leaves whose registers are feature bits, checked bit by bit against what KVM
    /// supports. The others describe topology, caches, brand strings and limits, which a
    /// template sets from the host or the VM's shape and the guest reads only at boot.
    static let featureRegisters: [(function: UInt32, index: UInt32, register: CPUIDEntry.Register, ignoring: UInt32)] = [
        // Leaf 1 ECX: OSXSAVE (27) mirrors the guest's CR4 and is not in KVM's list.
        (1, 0, .ecx, 1 << 27), (1, 0, .edx, 0),
        // Leaf 7 ECX: OSPKE (4) mirrors CR4.PKE.
        (7, 0, .ebx, 0), (7, 0, .ecx, 1 << 4), (7, 0, .edx, 0), (7, 1, .eax, 0),
        (0xD, 1, .eax, 0),
        (0x8000_0001, 0, .ecx, 0), (0x8000_0001, 0, .edx, 0),
        (0x4000_0001, 0, .eax, 0),
    ]

    /// What `saved` (one vCPU's CPUID) has that `supported` (KVM_GET_SUPPORTED_CPUID on
    /// this host) cannot give, one line each; empty when the host can restore it.
    public static func missing(saved: [CPUIDEntry], supported: [CPUIDEntry]) -> [String] {
        var missing: [String] = []
        for check in featureRegisters {
            guard let leaf = find(saved, check.function, check.index) else { continue }
            let wanted = leaf.value(check.register) & ~check.ignoring
            guard wanted != 0 else { continue }
            let name = "CPUID 0x\(String(check.function, radix: 16)).\(check.index) \(check.register)"
            guard let offered = find(supported, check.function, check.index) else {
                missing.append("\(name): leaf absent on this host")
                continue
            }
            let absent = wanted & ~offered.value(check.register)
            if absent != 0 {
                let bits = (0..<32).filter { absent & (1 << $0) != 0 }.map(String.init).joined(separator: ",")
                missing.append("\(name): bits \(bits) absent on this host")
            }
        }
        // The highest basic and extended leaves: a guest that saw a leaf may read it.
        for base in [UInt32(0), 0x8000_0000] {
            guard let savedMax = find(saved, base, 0)?.eax, let hostMax = find(supported, base, 0)?.eax else { continue }
            if savedMax > hostMax {
                missing.append("CPUID 0x\(String(base, radix: 16)) eax: highest leaf 0x\(String(savedMax, radix: 16)) above this host's 0x\(String(hostMax, radix: 16))")
            }
        }
        return missing
    }

    /// Checks every vCPU, and the template by name; throws one line naming the first
    /// problems, or returns when this host can restore the snapshot.
    public func check(template current: String, supported: [CPUIDEntry]) throws(SnapshotError) {
        guard template == current else {
            throw .incompatibleHost("it was taken with CPU template \(template), this VM would use \(current)")
        }
        for (id, entries) in cpuid.enumerated() {
            let missing = Self.missing(saved: entries, supported: supported)
            if !missing.isEmpty {
                throw .incompatibleHost("vCPU \(id) saw " + missing.prefix(3).joined(separator: "; "))
            }
        }
    }

    /// A leaf by function and subleaf; leaves without subleaves answer any index.
    static func find(_ entries: [CPUIDEntry], _ function: UInt32, _ index: UInt32) -> CPUIDEntry? {
        entries.first { $0.function == function && ($0.index == index || (!$0.hasSubleaves && index == 0)) }
    }
}

extension CPUIDEntry {
    func value(_ register: Register) -> UInt32 {
        switch register {
        case .eax: eax
        case .ebx: ebx
        case .ecx: ecx
        case .edx: edx
        }
    }
}
