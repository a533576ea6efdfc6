/// KVM's state structures kept as their bytes. KVM's x86 ABI is stable (the kernel never
/// changes a published structure), so the bytes of a kvm_sregs from one host are a
/// kvm_sregs on every other: the form snapshots store for what nobody needs field by field.
enum RawState {
    static func bytes<T: BitwiseCopyable>(of value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }

    /// `bytes` as a `T`, refused unless the size is exactly `T`'s.
    static func value<T: BitwiseCopyable>(_ type: T.Type, from bytes: [UInt8], what: String) throws(KVMError) -> T {
        guard bytes.count == MemoryLayout<T>.size else {
            throw .invalidState(what: what, detail: "\(bytes.count) bytes where KVM's structure has \(MemoryLayout<T>.size)")
        }
        return bytes.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    /// The same for C structures with a union inside (kvm_irqchip), which Swift does not
    /// infer BitwiseCopyable for: they are plain bytes all the same, with no references.
    static func bytes<T>(ofPlain value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }

    static func fill<T>(_ value: inout T, from bytes: [UInt8], what: String) throws(KVMError) {
        guard bytes.count == MemoryLayout<T>.size else {
            throw .invalidState(what: what, detail: "\(bytes.count) bytes where KVM's structure has \(MemoryLayout<T>.size)")
        }
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes) }
    }
}
