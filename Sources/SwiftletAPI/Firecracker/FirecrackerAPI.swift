import Synchronization
import SwiftletMachine

/// What the API remembers between requests.
struct APIState {
    var spec = VMSpec()
    /// InstanceStart succeeded.
    var started = false
    /// Drive ids in the order the guest got them (vda first), fixed at InstanceStart.
    var startedDrives: [String] = []
    var metrics: MetricsFile?
    var requests = 0
    var faults = 0
}

/// Firecracker's REST API over a `VMController`: routes a request, validates it completely,
/// and only then changes anything, so a refused request leaves no trace. Requests arrive
/// one at a time from the server's thread; the lock makes that an invariant, not a hope.
public final class FirecrackerAPI: Sendable {
    public struct Options: Sendable {
        public var instanceID: String
        public var enablePCI: Bool
        public var verbose: Bool
        public init(instanceID: String = FirecrackerDefaults.instanceID, enablePCI: Bool = false, verbose: Bool = false) {
            self.instanceID = instanceID
            self.enablePCI = enablePCI
            self.verbose = verbose
        }
    }

    let controller: any VMController
    public let options: Options
    public let logSink: LogSink
    private let state = Mutex(APIState())

    public init(controller: any VMController, options: Options = Options(), logSink: LogSink? = nil) {
        self.controller = controller
        self.options = options
        self.logSink = logSink ?? LogSink(instanceID: options.instanceID)
    }

    /// The configuration as it stands (tests, the front end).
    public var spec: VMSpec { state.withLock { $0.spec } }

    public var isStarted: Bool { state.withLock { $0.started } }

    /// Serves one request. Never throws, never traps: every problem is a 400 naming it.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        state.withLock { state in
            state.requests += 1
            let response: HTTPResponse
            do throws(APIFault) {
                response = try route(request, &state)
            } catch {
                state.faults += 1
                logSink.log(level: .warning, "API: \(request.method) \(request.path): \(error.description)")
                return .fault(400, error.description)
            }
            logSink.log(level: .info, "API: \(request.method) \(request.path): \(response.status)")
            return response
        }
    }

    private func route(_ request: HTTPRequest, _ state: inout APIState) throws(APIFault) -> HTTPResponse {
        let segments = request.path.split(separator: "/")
        if let first = segments.first, Self.notYetSupported.contains(String(first)) {
            throw APIFault("/\(first) is not supported by Swiftlet yet")
        }
        let candidates = Self.routes.compactMap { route in route.match(segments).map { (route, $0) } }
        guard !candidates.isEmpty else { throw APIFault("unknown path \(request.path)") }
        guard let (route, id) = candidates.first(where: { $0.0.method == request.method }) else {
            let allowed = candidates.map(\.0.method).joined(separator: ", ")
            throw APIFault("\(request.method) is not allowed on \(request.path) (allowed: \(allowed))")
        }
        let name = "\(request.method) \(request.path)"
        var body = JSONValue.null
        if route.body == .required {
            guard !request.body.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else {
                throw APIFault("\(name): empty body (a JSON object is needed)")
            }
            do { body = try JSONParser.parse(request.body) } catch { throw APIFault("\(name): malformed JSON: \(error.description)") }
        }
        do {
            return try route.action(self, &state, Route.Call(id: id, body: body, name: name))
        } catch let fault as APIFault {
            throw fault
        } catch {
            throw APIFault("\(name): \(error)")
        }
    }

    /// Paths Firecracker has and Swiftlet does not yet: a clear 400 rather than "unknown".
    static let notYetSupported: Set<String> = [
        "snapshot", "mmds", "balloon", "cpu-config", "hotplug", "memory-hotplug", "pmem", "serial",
    ]

    // MARK: - pieces the endpoints share

    static func requireNotStarted(_ state: APIState, _ call: Route.Call) throws(APIFault) {
        guard !state.started else { throw APIFault("\(call.name): only possible before InstanceStart") }
    }

    static func requireStarted(_ state: APIState, _ call: Route.Call) throws(APIFault) {
        guard state.started else { throw APIFault("\(call.name): only possible after InstanceStart") }
    }

    /// The id in the path must be the id in the body (Firecracker's rule).
    static func requireSameID(_ call: Route.Call, field: String, section: String) throws(APIFault) {
        guard case .object(let members) = call.body,
              let value = members.first(where: { $0.key == field })?.value, case .string(let bodyID) = value else { return }
        guard bodyID == call.id else {
            throw APIFault("\(section): the path says '\(call.id ?? "")' but \(field) says '\(bodyID)'")
        }
    }

    func stateName(_ state: APIState) -> String {
        guard state.started else { return "Not started" }
        switch controller.state {
        case .notStarted: return "Not started"
        case .running: return "Running"
        case .paused: return "Paused"
        // Only between the guest's end and the process's; not one of Firecracker's three.
        case .stopped: return "Stopped"
        }
    }
}
