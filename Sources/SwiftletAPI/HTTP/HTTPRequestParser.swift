/// Frames HTTP/1.1 requests out of the bytes a connection has received: a pure function,
/// so every rule is a row in a table test. What the API needs and nothing more: a request
/// line, headers, and a body framed by Content-Length. Chunked bodies are refused (no
/// Firecracker client sends them), and so is anything ambiguous about a body's length,
/// the root of request smuggling.
public enum HTTPRequestParser {
    public enum Outcome: Equatable {
        /// Not a whole request yet. `expectsContinue`: the head is in, asked for
        /// "100 Continue" (curl does for bodies over 1 KiB), and its body has not begun.
        case incomplete(expectsContinue: Bool)
        /// A whole request, which took the first `consumed` bytes.
        case request(HTTPRequest, consumed: Int)
        /// The bytes cannot be a request: answer this and close the connection.
        case invalid(HTTPResponse)
    }

    /// Firecracker's default payload limit (--http-api-max-payload-size).
    public static let defaultMaximumBody = 51_200
    /// The request line and headers together; Firecracker's clients send a few hundred bytes.
    public static let maximumHead = 8_192

    public static func parse(_ buffer: ArraySlice<UInt8>, maximumBody: Int = defaultMaximumBody) -> Outcome {
        guard let headEnd = find(crlfcrlf, in: buffer) else {
            if buffer.count > maximumHead { return bad("request head larger than \(maximumHead) bytes") }
            return .incomplete(expectsContinue: false)
        }
        guard headEnd - buffer.startIndex <= maximumHead else { return bad("request head larger than \(maximumHead) bytes") }
        guard let head = String(validating: buffer[buffer.startIndex..<headEnd], as: UTF8.self) else {
            return bad("request head is not UTF-8")
        }
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let requestLine = lines.removeFirst()
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenCharacter) else {
            return bad("malformed request line '\(requestLine)'")
        }
        let method = String(parts[0])
        let version = parts[2]
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else { return bad("unsupported HTTP version '\(version)'") }
        guard parts[1].hasPrefix("/") else { return bad("request target '\(parts[1])' is not a path") }
        let path = String(parts[1].prefix { $0 != "?" && $0 != "#" })

        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return bad("malformed header line '\(line)'") }
            let name = line[line.startIndex..<colon]
            // No space before the colon, no folded continuation lines (RFC 9112 §5.1, §5.2).
            guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else { return bad("malformed header line '\(line)'") }
            let value = line[line.index(after: colon)...].trimmingSpaceAndTab()
            guard !value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }) else {
                return bad("control character in header '\(name)'")
            }
            headers.append((name.lowercased(), value))
        }

        if headers.contains(where: { $0.name == "transfer-encoding" }) {
            return bad("Transfer-Encoding bodies are not supported: send the body with Content-Length")
        }
        let lengths = Set(headers.filter { $0.name == "content-length" }.map(\.value))
        var bodyLength = 0
        if !lengths.isEmpty {
            guard lengths.count == 1, let text = lengths.first, !text.isEmpty, text.utf8.count <= 18,
                  text.allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(text) else {
                return bad("bad Content-Length")
            }
            bodyLength = length
        }
        guard bodyLength <= maximumBody else {
            return .invalid(.fault(413, "request body of \(bodyLength) bytes is larger than the limit of \(maximumBody) bytes (--http-api-max-payload-size)", closesConnection: true))
        }

        let connection = headers.last { $0.name == "connection" }?.value.lowercased()
        let keepAlive = version == "HTTP/1.1" ? connection != "close" : connection == "keep-alive"
        let bodyStart = headEnd + crlfcrlf.count
        let available = buffer.endIndex - bodyStart
        guard available >= bodyLength else {
            let expects = headers.contains { $0.name == "expect" && $0.value.lowercased() == "100-continue" }
            return .incomplete(expectsContinue: expects && available == 0)
        }
        let body = Array(buffer[bodyStart..<(bodyStart + bodyLength)])
        let request = HTTPRequest(method: method, path: path, headers: headers, body: body, keepAlive: keepAlive)
        return .request(request, consumed: bodyStart + bodyLength - buffer.startIndex)
    }

    private static let crlfcrlf: [UInt8] = [13, 10, 13, 10]

    private static func bad(_ message: String) -> Outcome { .invalid(.fault(400, message, closesConnection: true)) }

    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    /// RFC 9110's tchar: what a method or a header name may be made of.
    private static func isTokenCharacter(_ character: Character) -> Bool {
        guard character.isASCII, let value = character.asciiValue, value > 0x20, value < 0x7F else { return false }
        return !"\"(),/:;<=>?@[\\]{}".contains(character)
    }
}

extension Substring {
    fileprivate func trimmingSpaceAndTab() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
