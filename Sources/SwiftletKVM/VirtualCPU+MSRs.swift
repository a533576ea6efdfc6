#if canImport(Glibc)
import Glibc
#endif
import CKVM

extension VirtualCPU {
    /// Of `listed` (KVM_GET_MSR_INDEX_LIST: what KVM can save on this host), the MSRs this
    /// vCPU has. KVM lists an MSR when the host has it, but a vCPU has it only when its
    /// CPUID does (TSC_AUX without RDTSCP, XSS without XSAVES, ...), and KVM_GET_MSRS stops
    /// at the first one it lacks. Asking for each alone sorts them out once, after CPUID is
    /// set; `captureState` then reads exactly these and a short answer is an error.
    public func readableMSRs(of listed: [UInt32]) -> [UInt32] {
        listed.filter { index in
            (try? readMSRs([index], chunk: 1)).map { $0.count == 1 } ?? false
        }
    }

    /// The values of `indices`, all or an error naming the first MSR KVM would not read.
    public func readMSRs(_ indices: [UInt32], chunk: Int = 64) throws(KVMError) -> [MSRValue] {
        var values: [MSRValue] = []
        values.reserveCapacity(indices.count)
        var start = 0
        while start < indices.count {
            // KVM caps one call at KVM_MAX_MSR_ENTRIES (256); stay well under it.
            let part = Array(indices[start..<min(start + chunk, indices.count)])
            values += try readMSRChunk(part)
            start += part.count
        }
        return values
    }

    private func readMSRChunk(_ indices: [UInt32]) throws(KVMError) -> [MSRValue] {
        let header = MemoryLayout<kvm_msrs>.size, stride = MemoryLayout<kvm_msr_entry>.stride
        let size = header + indices.count * stride
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        buffer.storeBytes(of: UInt32(indices.count), as: UInt32.self)
        for (i, index) in indices.enumerated() {
            var entry = kvm_msr_entry()
            entry.index = index
            (buffer + header + i * stride).storeBytes(of: entry, as: kvm_msr_entry.self)
        }
        let read = Int(try fd.ioctl(CKVM_GET_MSRS, buffer, "read vCPU \(id)'s MSRs"))
        guard read == indices.count else {
            let refused = read < indices.count ? indices[read] : 0
            throw .partial(what: "read MSRs", detail: "vCPU \(id) gave \(read) of \(indices.count); MSR 0x\(String(refused, radix: 16)) was refused")
        }
        return (0..<read).map { i in
            let entry = (buffer + header + i * stride).load(as: kvm_msr_entry.self)
            return MSRValue(index: entry.index, value: entry.data)
        }
    }
}
