#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// An owned file descriptor for a KVM object (the system, a VM, a vCPU), closed when the
/// owner goes away. Each KVM object is a file descriptor; closing the last one frees it.
final class KVMDescriptor: @unchecked Sendable {
    // @unchecked: the descriptor number is immutable; the kernel serialises what needs it.
    let raw: Int32

    init(_ raw: Int32) { self.raw = raw }
    deinit { close(raw) }

    /// An ioctl with a pointer argument; throws with `what` on failure.
    @discardableResult
    func ioctl(_ request: UInt, _ argument: UnsafeMutableRawPointer?, _ what: @autoclosure () -> String) throws(KVMError) -> Int32 {
        while true {
            let result = ckvm_ioctl(raw, request, argument)
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw .ioctlFailed(what: what(), errno: errno)
        }
    }

    /// An ioctl with an integer argument; throws with `what` on failure.
    @discardableResult
    func ioctl(_ request: UInt, value: UInt, _ what: @autoclosure () -> String) throws(KVMError) -> Int32 {
        while true {
            let result = ckvm_ioctl_value(raw, request, value)
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw .ioctlFailed(what: what(), errno: errno)
        }
    }

    /// `ioctl` on a value's bytes.
    @discardableResult
    func ioctl<T>(_ request: UInt, _ value: inout T, _ what: @autoclosure () -> String) throws(KVMError) -> Int32 {
        let description = what()
        return try withUnsafeMutableBytes(of: &value) { (bytes) throws(KVMError) -> Int32 in
            try ioctl(request, bytes.baseAddress, description)
        }
    }
}
