import SwiftletKVM

extension HostRequirements {
    /// The HOST section: the template's name, then per vCPU its CPUID leaves.
    public var section: SnapshotSection {
        var out = ByteWriter()
        out.appendSized(Array(template.utf8))
        out.append(UInt32(cpuid.count))
        for entries in cpuid {
            out.append(UInt32(entries.count))
            for e in entries {
                for field in [e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx] { out.append(field) }
            }
        }
        return SnapshotSection(.host, payload: out.bytes)
    }

    public init(_ section: SnapshotSection) throws(SnapshotError) {
        var reader = ByteReader(section)
        let template = String(decoding: try reader.sizedBytes(limit: 256), as: UTF8.self)
        // KVM allows at most a few hundred leaves and a few thousand vCPUs.
        let count = try reader.read(UInt32.self)
        guard count <= 4096 else { throw .malformedSection(tag: section.tag.rawValue, detail: "\(count) vCPUs") }
        var cpuid: [[CPUIDEntry]] = []
        for _ in 0..<count {
            let leaves = try reader.read(UInt32.self)
            guard leaves <= 1024 else { throw .malformedSection(tag: section.tag.rawValue, detail: "\(leaves) CPUID leaves") }
            var entries: [CPUIDEntry] = []
            for _ in 0..<leaves {
                var f: [UInt32] = []
                for _ in 0..<7 { f.append(try reader.read(UInt32.self)) }
                entries.append(CPUIDEntry(function: f[0], index: f[1], flags: f[2], eax: f[3], ebx: f[4], ecx: f[5], edx: f[6]))
            }
            cpuid.append(entries)
        }
        try reader.finish()
        self.init(template: template, cpuid: cpuid)
    }
}
