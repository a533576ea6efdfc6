import SwiftletKVM

// The VCPU and KVM sections: KVM's state as SwiftletKVM hands it over, field by field.
// Each variable-size field carries its length; the reader checks every length against
// a limit, and SwiftletKVM checks the fixed-size ones against KVM's structures on restore.

extension KVMVCPUSnapshot {
    /// The VCPU section for vCPU `id`.
    public func section(id: Int) -> SnapshotSection {
        var out = ByteWriter()
        out.append(UInt32(id))
        out.appendCPUID(cpuid)
        out.append(mpState)
        for raw in [regs, sregs, xsave, xcrs, debugRegs, lapic, events] { out.appendSized(raw) }
        out.append(UInt32(msrs.count))
        for msr in msrs {
            out.append(msr.index)
            out.append(msr.value)
        }
        out.append(tscKHz)
        return SnapshotSection(.vcpu, payload: out.bytes)
    }

    /// A VCPU section's vCPU number and state.
    public static func decode(_ section: SnapshotSection) throws(SnapshotError) -> (id: Int, state: KVMVCPUSnapshot) {
        var reader = ByteReader(section)
        let id = Int(try reader.read(UInt32.self))
        let cpuid = try reader.readCPUID()
        let mpState = try reader.read(UInt32.self)
        var raw: [[UInt8]] = []
        // XSAVE is the largest (a few KiB, 11 KiB with AMX); nothing here nears 1 MiB.
        for _ in 0..<7 { raw.append(try reader.sizedBytes(limit: 1 << 20)) }
        let count = try reader.read(UInt32.self)
        guard count <= 4096 else { throw .malformedSection(tag: section.tag.rawValue, detail: "\(count) MSRs") }
        var msrs: [MSRValue] = []
        for _ in 0..<count {
            let index = try reader.read(UInt32.self)
            msrs.append(MSRValue(index: index, value: try reader.read(UInt64.self)))
        }
        let tscKHz = try reader.read(UInt32.self)
        try reader.finish()
        let state = KVMVCPUSnapshot(cpuid: cpuid, mpState: mpState, regs: raw[0], sregs: raw[1], xsave: raw[2],
                                    xcrs: raw[3], debugRegs: raw[4], lapic: raw[5], msrs: msrs, events: raw[6],
                                    tscKHz: tscKHz)
        return (id, state)
    }
}

extension KVMVMSnapshot {
    /// The KVM section.
    public var section: SnapshotSection {
        var out = ByteWriter()
        for raw in [picMaster, picSlave, ioapic, pit] { out.appendSized(raw) }
        out.append(clock)
        out.append(clockFlags)
        out.append(realtime)
        return SnapshotSection(.vm, payload: out.bytes)
    }

    public init(_ section: SnapshotSection) throws(SnapshotError) {
        var reader = ByteReader(section)
        var raw: [[UInt8]] = []
        for _ in 0..<4 { raw.append(try reader.sizedBytes(limit: 4096)) }
        let clock = try reader.read(UInt64.self)
        let flags = try reader.read(UInt32.self)
        let realtime = try reader.read(UInt64.self)
        try reader.finish()
        self.init(picMaster: raw[0], picSlave: raw[1], ioapic: raw[2], pit: raw[3],
                  clock: clock, clockFlags: flags, realtime: realtime)
    }
}

extension ByteWriter {
    mutating func appendCPUID(_ entries: [CPUIDEntry]) {
        append(UInt32(entries.count))
        for e in entries {
            for field in [e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx] { append(field) }
        }
    }
}

extension ByteReader {
    /// KVM allows at most 256 CPUID entries; 1024 leaves room and still bounds the work.
    mutating func readCPUID() throws(SnapshotError) -> [CPUIDEntry] {
        let count = try read(UInt32.self)
        guard count <= 1024 else { throw .malformedSection(tag: tag, detail: "\(count) CPUID leaves") }
        var entries: [CPUIDEntry] = []
        for _ in 0..<count {
            var f: [UInt32] = []
            for _ in 0..<7 { f.append(try read(UInt32.self)) }
            entries.append(CPUIDEntry(function: f[0], index: f[1], flags: f[2], eax: f[3], ebx: f[4], ecx: f[5], edx: f[6]))
        }
        return entries
    }
}
