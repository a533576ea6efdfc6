/// Firecracker's --config-file: the same sections as the API, kebab-case at the top
/// level, applied through exactly the endpoints' code so that a file and a PUT are
/// refused for the same reasons with the same words.
extension FirecrackerAPI {
    /// Sections this program knows but cannot honour: a file that asks for them is
    /// refused (Firecracker would set them up; booting without them would be a surprise).
    static let unsupportedSections = ["balloon", "mmds-config", "cpu-config", "memory-hotplug", "pmem", "serial"]

    /// Applies a configuration file's JSON text. Keys we do not know are ignored, as
    /// Firecracker does; fields inside a section we know must all be known.
    public func apply(configFile bytes: [UInt8]) throws(APIFault) {
        let document: JSONValue
        do { document = try JSONParser.parse(bytes) } catch { throw APIFault("config file: malformed JSON: \(error.description)") }
        guard case .object(let sections) = document else { throw APIFault("config file: expected a JSON object") }
        func section(_ name: String) -> JSONValue? {
            guard let value = sections.first(where: { $0.key == name })?.value, value != .null else { return nil }
            return value
        }
        for name in Self.unsupportedSections where section(name) != nil {
            throw APIFault("\(name): not supported by Swiftlet yet")
        }
        // The order matters only for logging: the logger first, so later steps log there.
        let singles = ["logger": "/logger", "metrics": "/metrics", "machine-config": "/machine-config",
                       "boot-source": "/boot-source", "entropy": "/entropy"]
        for name in ["logger", "metrics", "machine-config", "boot-source"] {
            if let value = section(name), let path = singles[name] { try put(path, value) }
        }
        for (name, idField, prefix) in [("drives", "drive_id", "/drives/"), ("network-interfaces", "iface_id", "/network-interfaces/")] {
            guard let value = section(name) else { continue }
            guard case .array(let entries) = value else { throw APIFault("\(name): expected an array, not \(value.kindName)") }
            for entry in entries {
                let fields = try FieldReader(entry, section: name, fields: name == "drives" ? DriveSpec.fields : NetworkInterfaceSpec.fields)
                try put(prefix + (try fields.nonEmptyString(idField)), entry)
            }
        }
        if let value = section("entropy") { try put("/entropy", value) }
        if let value = section("vsock") { try put("/vsock", value) }
    }

    /// One section through the endpoint that serves its PUT.
    private func put(_ path: String, _ body: JSONValue) throws(APIFault) {
        let response = handle(HTTPRequest(method: "PUT", path: path, body: Array(body.text.utf8)))
        guard response.status == 204 else { throw APIFault(response.faultMessage ?? "\(path): refused (\(response.status))") }
    }

    /// InstanceStart, as the config file's boot does it.
    public func start() throws(APIFault) {
        let response = handle(HTTPRequest(method: "PUT", path: "/actions", body: Array(#"{"action_type":"InstanceStart"}"#.utf8)))
        guard response.status == 204 else { throw APIFault(response.faultMessage ?? "InstanceStart refused (\(response.status))") }
    }
}
