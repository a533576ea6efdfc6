/// A response the server writes: a status, maybe a JSON body.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// Close the connection once this is written (after a request we could not frame).
    public var closesConnection: Bool

    public init(status: Int, body: [UInt8] = [], closesConnection: Bool = false) {
        self.status = status
        self.body = body
        self.closesConnection = closesConnection
    }

    public init(status: Int, json: JSONValue, closesConnection: Bool = false) {
        self.init(status: status, body: Array(json.text.utf8), closesConnection: closesConnection)
    }

    /// Firecracker's error shape, which every client parses: {"fault_message": "..."}.
    public static func fault(_ status: Int, _ message: String, closesConnection: Bool = false) -> HTTPResponse {
        HTTPResponse(status: status, json: .object([("fault_message", .string(message))]), closesConnection: closesConnection)
    }

    /// The fault_message of an error response.
    public var faultMessage: String? {
        guard case .object(let members) = (try? JSONParser.parse(body)) ?? .null,
              case .string(let text)? = members.first(where: { $0.key == "fault_message" })?.value else { return nil }
        return text
    }

    /// 204 No Content: what Firecracker's clients expect from every successful PUT and PATCH.
    public static let noContent = HTTPResponse(status: 204)

    public static func reason(for status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 413: return "Payload Too Large"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status \(status)"
        }
    }

    /// The bytes on the wire. A 204 carries no Content-Length (RFC 9110 forbids it there).
    public func serialized(keepAlive: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(for: status))\r\nServer: Swiftlet API\r\n"
        if status != 204 {
            if !body.isEmpty { head += "Content-Type: application/json\r\n" }
            head += "Content-Length: \(body.count)\r\n"
        }
        if !keepAlive || closesConnection { head += "Connection: close\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (status == 204 ? [] : body)
    }
}
