import SwiftletMachine

/// /network-interfaces/{id}: a virtio-net card on an existing tap, opened by name at
/// InstanceStart (as Firecracker does; its host side is whoever made it's business).
public struct NetworkInterfaceSpec: Sendable, Equatable {
    public var ifaceID: String
    public var hostDevName: String
    /// As the client wrote it (GET /vm/config echoes it); `mac` is the parsed form.
    public var guestMAC: String?
    public var mac: [UInt8]?

    static let section = "network-interfaces"
    static let fields: Set<String> = ["iface_id", "host_dev_name", "guest_mac", "rx_rate_limiter", "tx_rate_limiter"]

    init(json: JSONValue) throws(APIFault) {
        let fields = try FieldReader(json, section: Self.section, fields: Self.fields)
        ifaceID = try fields.nonEmptyString("iface_id")
        hostDevName = try fields.string("host_dev_name")
        let name = hostDevName
        try checked { () throws(ConfigError) in try ConfigParsing.interfaceName(name, field: "network-interfaces: host_dev_name") }
        guestMAC = try fields.optionalString("guest_mac")
        if let text = guestMAC {
            mac = try checked { () throws(ConfigError) in try ConfigParsing.mac(text, field: "network-interfaces: guest_mac") }
        }
        try Self.checkLimiters(fields)
    }

    /// PATCH after start: only the rate limiters may change, and Swiftlet has none.
    static func patch(json: JSONValue) throws(APIFault) {
        let fields = try FieldReader(json, section: section, fields: ["iface_id", "rx_rate_limiter", "tx_rate_limiter"])
        _ = try fields.nonEmptyString("iface_id")
        try checkLimiters(fields)
    }

    private static func checkLimiters(_ fields: FieldReader) throws(APIFault) {
        try RateLimiterCheck.check(fields.value("rx_rate_limiter"), field: "rx_rate_limiter", section: section)
        try RateLimiterCheck.check(fields.value("tx_rate_limiter"), field: "tx_rate_limiter", section: section)
    }

    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("iface_id", .string(ifaceID)), ("host_dev_name", .string(hostDevName))]
        if let guestMAC { members.append(("guest_mac", .string(guestMAC))) }
        return .object(members)
    }
}
