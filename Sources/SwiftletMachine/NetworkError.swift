#if canImport(Glibc)
import Glibc
#endif

/// Why a network card could not be set up, as the one line a user sees.
public enum NetworkError: Error, Equatable, CustomStringConvertible {
    case noTunDevice
    case noPermission(String)
    case noSuchBridge(String)
    case notABridge(String)
    case failed(what: String, errno: Int32)

    public var description: String {
        switch self {
        case .noTunDevice:
            return "--tunnet: /dev/net/tun does not exist (no tun/tap support in this kernel?)"
        case .noPermission(let what):
            return "--tunnet: \(what): permission denied (needs CAP_NET_ADMIN, e.g. root)"
        case .noSuchBridge(let name):
            return "--tunnet: no bridge named \(name)"
        case .notABridge(let name):
            return "--tunnet: \(name) is not a bridge"
        case .failed(let what, let errno):
            return "--tunnet: \(what): \(String(cString: strerror(errno)))"
        }
    }

    /// A failed call: EPERM/EACCES are worded as permission problems.
    static func call(_ what: String, errno: Int32 = Glibc.errno) -> NetworkError {
        errno == EPERM || errno == EACCES ? .noPermission(what) : .failed(what: what, errno: errno)
    }
}
