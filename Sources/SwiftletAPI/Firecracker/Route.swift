/// One endpoint: a method and a path pattern whose `{id}` segment matches any one segment.
/// The table in `FirecrackerAPI.routes` is the whole API; adding an endpoint (vsock,
/// snapshots) is adding a row there and removing its prefix from `notYetSupported`.
struct Route: Sendable {
    enum Body: Sendable { case none, required }

    let method: String
    let pattern: [Substring]
    let body: Body
    /// Throws `APIFault`s (closures cannot declare a typed throw by inference yet).
    let action: @Sendable (FirecrackerAPI, inout APIState, Route.Call) throws -> HTTPResponse

    struct Call {
        /// The `{id}` segment, when the pattern has one.
        let id: String?
        /// The parsed body (`.null` for routes that take none).
        let body: JSONValue
        /// "PUT /drives/rootfs": for messages.
        let name: String
    }

    init(_ method: String, _ path: String, body: Body = .required,
         _ action: @escaping @Sendable (FirecrackerAPI, inout APIState, Route.Call) throws -> HTTPResponse) {
        self.method = method
        pattern = path.split(separator: "/")
        self.body = body
        self.action = action
    }

    var path: String { "/" + pattern.joined(separator: "/") }

    /// The `{id}` if `segments` match the pattern (nil id for patterns without one); nil if not.
    func match(_ segments: [Substring]) -> String?? {
        guard segments.count == pattern.count else { return nil }
        var id: String?
        for (wanted, actual) in zip(pattern, segments) {
            if wanted == "{id}" {
                id = String(actual)
            } else if wanted != actual {
                return nil
            }
        }
        return .some(id)
    }
}
