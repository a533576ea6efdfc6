import SwiftletKVM

/// A whole state file's contents as one value: what the host must give, guest RAM's
/// layout, the VM's and each vCPU's KVM state, and the device sections (which their own
/// layers encode). Reading one checks that every part is there exactly once and that the
/// vCPUs are numbered 0..<n in order, so a restore never starts from half a machine.
public struct MachineSnapshot: Equatable, Sendable {
    public var host: HostRequirements
    public var memory: GuestRAMLayout
    public var vm: KVMVMSnapshot
    public var vcpus: [KVMVCPUSnapshot]
    /// CONF and DEV sections, in order, for the machine layer to decode.
    public var devices: [SnapshotSection]

    public init(host: HostRequirements, memory: GuestRAMLayout, vm: KVMVMSnapshot,
                vcpus: [KVMVCPUSnapshot], devices: [SnapshotSection] = []) {
        self.host = host; self.memory = memory; self.vm = vm; self.vcpus = vcpus; self.devices = devices
    }

    /// Every tag a state file of this version may hold.
    public static let known: Set<SectionTag> = [.host, .memory, .vm, .vcpu, .config, .device]

    /// The sections in the order a reader wants them: what to check first comes first.
    public var sections: [SnapshotSection] {
        [host.section, memory.section, vm.section]
            + vcpus.enumerated().map { $0.element.section(id: $0.offset) }
            + devices
    }

    public init(_ sections: [SnapshotSection]) throws(SnapshotError) {
        func one(_ tag: SectionTag) throws(SnapshotError) -> SnapshotSection {
            let matching = sections.filter { $0.tag == tag }
            guard let first = matching.first else { throw .missingSection(tag: tag.rawValue) }
            guard matching.count == 1 else { throw .malformedSection(tag: tag.rawValue, detail: "it appears \(matching.count) times") }
            return first
        }
        host = try HostRequirements(try one(.host))
        memory = try GuestRAMLayout(try one(.memory))
        vm = try KVMVMSnapshot(try one(.vm))
        var vcpus: [KVMVCPUSnapshot] = []
        for section in sections where section.tag == .vcpu {
            let (id, state) = try KVMVCPUSnapshot.decode(section)
            guard id == vcpus.count else {
                throw .malformedSection(tag: section.tag.rawValue, detail: "vCPU \(id) where vCPU \(vcpus.count) should be")
            }
            vcpus.append(state)
        }
        guard !vcpus.isEmpty else { throw .missingSection(tag: SectionTag.vcpu.rawValue) }
        guard vcpus.count == host.cpuid.count else {
            throw .malformedSection(tag: SectionTag.host.rawValue, detail: "CPUID for \(host.cpuid.count) vCPUs, state for \(vcpus.count)")
        }
        self.vcpus = vcpus
        devices = sections.filter { $0.tag == .config || $0.tag == .device }
    }

    /// Writes the state file (whole or not at all).
    public func write(to path: String) throws(SnapshotError) {
        try SnapshotFile.write(sections, to: path)
    }

    /// Reads and checks a state file.
    public static func read(_ path: String) throws(SnapshotError) -> MachineSnapshot {
        try MachineSnapshot(try SnapshotFile.read(path, known: known))
    }
}
