#if canImport(Glibc)
import Glibc
#endif
import SwiftletMachine

/// The endpoints. Each parses and checks its whole request first and changes state last.
extension FirecrackerAPI {
    static let routes: [Route] = [
        Route("GET", "/", body: .none) { api, state, _ in
            HTTPResponse(status: 200, json: .object([
                ("id", .string(api.options.instanceID)), ("state", .string(api.stateName(state))),
                ("vmm_version", .string(FirecrackerDefaults.swiftletVersion)), ("app_name", .string("Firecracker")),
            ]))
        },
        Route("GET", "/version", body: .none) { _, _, _ in
            HTTPResponse(status: 200, json: .object([("firecracker_version", .string(FirecrackerDefaults.apiVersion))]))
        },
        Route("GET", "/machine-config", body: .none) { _, state, _ in
            HTTPResponse(status: 200, json: state.spec.machine.json)
        },
        Route("PUT", "/machine-config") { _, state, call in
            try requireNotStarted(state, call)
            state.spec.machine = try MachineSettings(json: call.body)
            return .noContent
        },
        Route("PATCH", "/machine-config") { _, state, call in
            try requireNotStarted(state, call)
            state.spec.machine = try MachineSettings(json: call.body, patching: state.spec.machine)
            return .noContent
        },
        Route("PUT", "/boot-source") { _, state, call in
            try requireNotStarted(state, call)
            state.spec.bootSource = try BootSource(json: call.body)
            return .noContent
        },
        Route("PUT", "/drives/{id}") { _, state, call in
            try requireNotStarted(state, call)
            try requireSameID(call, field: "drive_id", section: DriveSpec.section)
            var spec = state.spec
            try spec.put(try DriveSpec(json: call.body))
            state.spec = spec
            return .noContent
        },
        Route("PATCH", "/drives/{id}") { api, state, call in
            try requireStarted(state, call)
            try requireSameID(call, field: "drive_id", section: DriveSpec.section)
            return try api.patchDrive(&state, call)
        },
        Route("PUT", "/network-interfaces/{id}") { _, state, call in
            try requireNotStarted(state, call)
            try requireSameID(call, field: "iface_id", section: NetworkInterfaceSpec.section)
            var spec = state.spec
            try spec.put(try NetworkInterfaceSpec(json: call.body))
            state.spec = spec
            return .noContent
        },
        Route("PATCH", "/network-interfaces/{id}") { _, state, call in
            try requireStarted(state, call)
            try requireSameID(call, field: "iface_id", section: NetworkInterfaceSpec.section)
            guard state.spec.networkInterfaces.contains(where: { $0.ifaceID == call.id }) else {
                throw APIFault("network-interfaces: no interface '\(call.id ?? "")'")
            }
            try NetworkInterfaceSpec.patch(json: call.body)
            return .noContent
        },
        Route("PUT", "/entropy") { _, state, call in
            try requireNotStarted(state, call)
            let fields = try FieldReader(call.body, section: "entropy", fields: ["rate_limiter"])
            try RateLimiterCheck.check(fields.value("rate_limiter"), field: "rate_limiter", section: "entropy")
            state.spec.entropy = true
            return .noContent
        },
        // Firecracker ignores what follows /vsock in the path (an old vsock_id).
        Route("PUT", "/vsock", putVsock),
        Route("PUT", "/vsock/{id}", putVsock),
        Route("PUT", "/logger") { api, state, call in
            try requireNotStarted(state, call)
            try api.configureLogger(LoggerSettings(json: call.body), &state)
            return .noContent
        },
        Route("PUT", "/metrics") { _, state, call in
            try requireNotStarted(state, call)
            let path = try MetricsFile.path(from: call.body)
            state.metrics = try MetricsFile(path: path)
            state.spec.metricsPath = path
            return .noContent
        },
        Route("PUT", "/actions") { api, state, call in
            let fields = try FieldReader(call.body, section: "actions", fields: ["action_type"])
            switch try fields.string("action_type") {
            case "InstanceStart": try api.instanceStart(&state)
            case "SendCtrlAltDel":
                try requireStarted(state, call)
                do { try api.controller.sendCtrlAltDel() } catch { throw APIFault("SendCtrlAltDel: \(String(describing: error))") }
            case "FlushMetrics": try api.flushMetrics(&state)
            case let other:
                throw APIFault("actions: action_type '\(other)' is not one of InstanceStart, SendCtrlAltDel, FlushMetrics")
            }
            return .noContent
        },
        Route("PATCH", "/vm") { api, state, call in
            let fields = try FieldReader(call.body, section: "vm", fields: ["state"])
            let wanted = try fields.string("state")
            guard wanted == "Paused" || wanted == "Resumed" else {
                throw APIFault("vm: state '\(wanted)' is not one of Paused, Resumed")
            }
            try requireStarted(state, call)
            do {
                if wanted == "Paused" { try api.controller.pause() } else { try api.controller.resume() }
            } catch {
                throw APIFault("vm: \(wanted): \(String(describing: error))")
            }
            return .noContent
        },
        Route("GET", "/vm/config", body: .none) { _, state, _ in
            HTTPResponse(status: 200, json: state.spec.json)
        },
    ]

    // MARK: - endpoints with more to do

    /// InstanceStart: the configuration becomes a machine; on failure nothing changes and
    /// the client may fix the configuration and try again.
    func instanceStart(_ state: inout APIState) throws(APIFault) {
        guard !state.started else { throw APIFault("InstanceStart: the VM has already started") }
        let config = try state.spec.machineConfig(enablePCI: options.enablePCI, verbose: options.verbose)
        do { try controller.start(config) } catch { throw APIFault("InstanceStart: \(String(describing: error))") }
        state.started = true
        state.startedDrives = state.spec.orderedDrives.map(\.driveID)
    }

    func patchDrive(_ state: inout APIState, _ call: Route.Call) throws(APIFault) -> HTTPResponse {
        guard let index = state.startedDrives.firstIndex(where: { $0 == call.id }),
              let specIndex = state.spec.drives.firstIndex(where: { $0.driveID == call.id }) else {
            throw APIFault("drives: no drive '\(call.id ?? "")'")
        }
        guard let path = try DriveSpec.patch(json: call.body, of: state.spec.drives[specIndex]) else { return .noContent }
        do { try controller.replaceDisk(at: index, path: path) } catch { throw APIFault("drives: \(String(describing: error))") }
        state.spec.drives[specIndex].pathOnHost = path
        return .noContent
    }

    func configureLogger(_ settings: LoggerSettings, _ state: inout APIState) throws(APIFault) {
        let level = try settings.level.map { name throws(APIFault) in try LogSink.level(named: name, field: "logger: level") }
        let fd = try settings.logPath.map { path throws(APIFault) in try LogSink.openForAppending(path, field: "logger: log_path") }
        logSink.configure(fd: fd, level: level, showLevel: settings.showLevel, showOrigin: settings.showLogOrigin)
        state.spec.logger = settings
    }

    func flushMetrics(_ state: inout APIState) throws(APIFault) {
        guard let metrics = state.metrics else { throw APIFault("FlushMetrics: no metrics file; PUT /metrics first") }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let line = JSONValue.object([
            ("utc_timestamp_ms", .integer(Int(now.tv_sec) * 1000 + Int(now.tv_nsec) / 1_000_000)),
            ("api_server", .object([("requests", .integer(state.requests)), ("faults", .integer(state.faults))])),
            ("vmm", .object([("state", .string(stateName(state)))])),
        ])
        guard metrics.append(line.text) else { throw APIFault("FlushMetrics: cannot write to \(metrics.path)") }
    }

    static func putVsock(_ api: FirecrackerAPI, _ state: inout APIState, _ call: Route.Call) throws -> HTTPResponse {
        try requireNotStarted(state, call)
        state.spec.vsock = try VsockSettings(json: call.body)
        return .noContent
    }
}
