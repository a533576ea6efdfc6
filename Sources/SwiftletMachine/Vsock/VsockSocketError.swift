#if canImport(Glibc)
import Glibc
#endif

/// Why the vsock host socket could not be made, in the user's one line.
package struct VsockSocketError: Error, Equatable, CustomStringConvertible {
    package let path: String
    package let detail: String

    package init(path: String, detail: String) {
        self.path = path
        self.detail = detail
    }

    static func failed(_ path: String, _ call: String, errno: Int32 = Glibc.errno) -> VsockSocketError {
        VsockSocketError(path: path, detail: "\(call) failed: \(String(cString: strerror(errno)))")
    }

    package var description: String { "vsock: \(path): \(detail)" }
}
