import CKVM

/// One CPUID leaf (function, subleaf index) and the four registers the guest will see.
public struct CPUIDEntry: Equatable, Sendable {
    public var function: UInt32
    public var index: UInt32
    /// KVM_CPUID_FLAG_SIGNIFCANT_INDEX when the leaf has subleaves.
    public var flags: UInt32
    public var eax: UInt32
    public var ebx: UInt32
    public var ecx: UInt32
    public var edx: UInt32

    public init(function: UInt32, index: UInt32 = 0, flags: UInt32 = 0,
                eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0) {
        self.function = function; self.index = index; self.flags = flags
        self.eax = eax; self.ebx = ebx; self.ecx = ecx; self.edx = edx
    }

    /// Whether `flags` says the subleaf index matters.
    public var hasSubleaves: Bool { flags & UInt32(KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0 }
}

/// A kvm_cpuid2 with its trailing array: C's flexible array member has no Swift spelling,
/// so the entries live in a buffer laid out exactly as the kernel expects.
struct CPUIDList: ~Copyable {
    let raw: UnsafeMutableRawPointer
    let capacity: Int
    static let headerSize = MemoryLayout<kvm_cpuid2>.size
    static let entrySize = MemoryLayout<kvm_cpuid_entry2>.stride

    init(capacity: Int) throws(KVMError) {
        self.capacity = capacity
        let size = Self.headerSize + capacity * Self.entrySize
        raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        raw.storeBytes(of: UInt32(capacity), as: UInt32.self)
    }

    init(_ entries: [CPUIDEntry]) throws(KVMError) {
        try self.init(capacity: entries.count)
        for (i, entry) in entries.enumerated() {
            var c = kvm_cpuid_entry2()
            c.function = entry.function; c.index = entry.index; c.flags = entry.flags
            c.eax = entry.eax; c.ebx = entry.ebx; c.ecx = entry.ecx; c.edx = entry.edx
            (raw + Self.headerSize + i * Self.entrySize).storeBytes(of: c, as: kvm_cpuid_entry2.self)
        }
    }

    deinit { raw.deallocate() }

    var entries: [CPUIDEntry] {
        let count = min(Int(raw.load(as: UInt32.self)), capacity)
        return (0..<count).map { i in
            let c = (raw + Self.headerSize + i * Self.entrySize).load(as: kvm_cpuid_entry2.self)
            return CPUIDEntry(function: c.function, index: c.index, flags: c.flags,
                              eax: c.eax, ebx: c.ebx, ecx: c.ecx, edx: c.edx)
        }
    }
}
