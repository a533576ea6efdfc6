/// The line a host program sends on the vsock socket before its byte stream, as
/// Firecracker's: `CONNECT <port>\n`, case-insensitive, at most 32 bytes with the newline.
enum VsockConnectLine {
    static let maxLength = 32

    enum Parse: Equatable {
        /// The guest port asked for.
        case port(UInt32)
        /// Not a CONNECT line: the host connection is closed.
        case invalid
    }

    /// Parses a whole line, newline included.
    static func parse(_ line: [UInt8]) -> Parse {
        guard line.count <= maxLength, line.last == UInt8(ascii: "\n") else { return .invalid }
        let text = line.dropLast()
        guard let space = text.firstIndex(of: UInt8(ascii: " ")) else { return .invalid }
        let verb = String(decoding: text[..<space], as: UTF8.self)
        let digits = text[text.index(after: space)...]
        guard verb.lowercased() == "connect", !digits.isEmpty, digits.count <= 10,
            digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let port = UInt32(String(decoding: digits, as: UTF8.self))
        else { return .invalid }
        return .port(port)
    }
}
