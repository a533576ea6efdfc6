#if canImport(Glibc)
import Glibc
#endif

/// What stops a benchmark run: the one line it prints.
struct DevbenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// "what: strerror(errno)" for a failed system call.
    static func system(_ what: String) -> DevbenchError {
        DevbenchError("\(what): \(String(cString: strerror(errno)))")
    }
}
