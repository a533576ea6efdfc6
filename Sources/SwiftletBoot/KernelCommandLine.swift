/// The kernel command line: the user's arguments joined by single spaces, as the seed's
/// concat() did, stored NUL-terminated where boot_params.cmd_line_ptr points.
public struct KernelCommandLine: Equatable, Sendable {
    public let text: String

    public init(arguments: [String]) {
        text = arguments.joined(separator: " ")
    }

    /// The bytes to store, terminator included. `limit` is the kernel's cmdline_size,
    /// "the maximum size of the command line without the terminating zero" (boot.rst).
    public func encoded(limit: Int) throws(BootError) -> [UInt8] {
        let bytes = Array(text.utf8)
        guard !bytes.contains(0) else { throw .commandLineContainsNUL }
        guard bytes.count <= limit else { throw .commandLineTooLong(length: bytes.count, limit: limit) }
        return bytes + [0]
    }
}
