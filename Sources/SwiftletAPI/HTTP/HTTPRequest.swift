/// One HTTP/1.x request as the API sees it: the body already complete.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path, without any query (the API has no use for one).
    public var path: String
    /// Header names in lower case, in the order sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Whether the connection stays open after the response (HTTP/1.1's default).
    public var keepAlive: Bool

    public init(method: String, path: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
                keepAlive: Bool = true) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
    }

    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name == wanted }?.value
    }

    public static func == (lhs: HTTPRequest, rhs: HTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path && lhs.body == rhs.body && lhs.keepAlive == rhs.keepAlive
            && lhs.headers.count == rhs.headers.count
            && zip(lhs.headers, rhs.headers).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}
