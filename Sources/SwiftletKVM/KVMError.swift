#if canImport(Glibc)
import Glibc
#endif

/// Why talking to KVM failed, worded as the one line the user sees.
public enum KVMError: Error, CustomStringConvertible, Equatable {
    /// /dev/kvm (or $SWIFTLET_KVM_DEVICE) could not be opened.
    case cannotOpen(path: String, errno: Int32)
    /// KVM_GET_API_VERSION gave something other than the stable API, 12.
    case wrongAPIVersion(Int32)
    /// A capability Swiftlet relies on is absent.
    case missingCapability(String)
    /// An ioctl failed; `what` names it in words.
    case ioctlFailed(what: String, errno: Int32)
    /// KVM accepted only part of a list (MSRs, for instance).
    case partial(what: String, detail: String)
    /// Saved state handed back to KVM does not have the shape KVM's structures need.
    case invalidState(what: String, detail: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let errno):
            let hint = errno == ENOENT
                ? " (is the kvm module loaded, and is this a machine with virtualization?)"
                : errno == EACCES ? " (is your user in the kvm group?)" : ""
            return "cannot open \(path): \(KVMError.text(errno))\(hint)"
        case .wrongAPIVersion(let version):
            return "KVM API version \(version) is not the stable version 12"
        case .missingCapability(let name):
            return "KVM lacks a capability Swiftlet needs: \(name)"
        case .ioctlFailed(let what, let errno):
            return "KVM could not \(what): \(KVMError.text(errno))"
        case .partial(let what, let detail):
            return "KVM refused to \(what): \(detail)"
        case .invalidState(let what, let detail):
            return "saved \(what) is not usable: \(detail)"
        }
    }

    static func text(_ errno: Int32) -> String {
        String(cString: strerror(errno))
    }
}
