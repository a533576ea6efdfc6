import SwiftletKVM

extension HostRequirements {
    /// The HOST section: the template's name, then per vCPU its CPUID leaves.
    public var section: SnapshotSection {
        var out = ByteWriter()
        out.appendSized(Array(template.utf8))
        out.append(UInt32(cpuid.count))
        for entries in cpuid { out.appendCPUID(entries) }
        return SnapshotSection(.host, payload: out.bytes)
    }

    public init(_ section: SnapshotSection) throws(SnapshotError) {
        var reader = ByteReader(section)
        let template = String(decoding: try reader.sizedBytes(limit: 256), as: UTF8.self)
        // KVM allows at most a few hundred leaves and a few thousand vCPUs.
        let count = try reader.read(UInt32.self)
        guard count <= 4096 else { throw .malformedSection(tag: section.tag.rawValue, detail: "\(count) vCPUs") }
        var cpuid: [[CPUIDEntry]] = []
        for _ in 0..<count { cpuid.append(try reader.readCPUID()) }
        try reader.finish()
        self.init(template: template, cpuid: cpuid)
    }
}
