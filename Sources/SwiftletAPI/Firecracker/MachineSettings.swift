import SwiftletMachine

/// /machine-config: vCPUs and memory, and the Firecracker knobs Swiftlet has no use for,
/// accepted only at the value that means "off".
public struct MachineSettings: Sendable, Equatable {
    public var vcpuCount: Int = 1
    /// Firecracker's default, kept so that a client that never PUTs /machine-config boots.
    public var memSizeMiB: UInt64 = 128
    /// Accepted and ignored: it only matters for diff snapshots, which Swiftlet lacks.
    public var trackDirtyPages = false

    public init() {}

    static let section = "machine-config"
    static let fields: Set<String> = ["vcpu_count", "mem_size_mib", "smt", "track_dirty_pages", "huge_pages", "cpu_template"]
    /// Firecracker's bound (and its swagger's).
    static let vcpuRange: ClosedRange<UInt64> = 1...32

    /// A PUT replaces the whole configuration (absent fields take their defaults, as in
    /// Firecracker); a PATCH (`base` given) changes only the fields sent.
    init(json: JSONValue, patching base: MachineSettings? = nil) throws(APIFault) {
        let fields = try FieldReader(json, section: Self.section, fields: Self.fields)
        self = base ?? MachineSettings()
        if base == nil {
            guard fields.has("vcpu_count") else { throw APIFault("machine-config: vcpu_count is missing") }
            guard fields.has("mem_size_mib") else { throw APIFault("machine-config: mem_size_mib is missing") }
        }
        if let count = try fields.optionalInteger("vcpu_count", in: Self.vcpuRange) { vcpuCount = Int(count) }
        if let mib = try fields.optionalInteger("mem_size_mib", in: 0...UInt64.max) {
            memSizeMiB = try checked { () throws(ConfigError) in try ConfigParsing.memoryMiB(mib, field: "machine-config: mem_size_mib") }
        }
        if try fields.optionalBool("smt") == true {
            throw APIFault("machine-config: smt true is not supported (Swiftlet gives each vCPU a core of its own)")
        }
        if let dirty = try fields.optionalBool("track_dirty_pages") { trackDirtyPages = dirty }
        if let pages = try fields.optionalString("huge_pages"), pages != "None" {
            throw APIFault("machine-config: huge_pages '\(pages)' is not supported (only None)")
        }
        if let template = try fields.optionalString("cpu_template"), template != "None" {
            throw APIFault("machine-config: cpu_template '\(template)' is not supported (only None: Swiftlet picks its CPU model for the host)")
        }
    }

    var json: JSONValue {
        .object([
            ("vcpu_count", .integer(vcpuCount)), ("mem_size_mib", .integer(memSizeMiB)), ("smt", .bool(false)),
            ("track_dirty_pages", .bool(trackDirtyPages)), ("huge_pages", .string("None")),
        ])
    }
}
