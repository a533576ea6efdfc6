import SwiftletMachine

/// /drives/{id}: one virtio disk. The root drive becomes vda and names the kernel's root.
public struct DriveSpec: Sendable, Equatable {
    public var driveID: String
    public var pathOnHost: String
    public var isRootDevice: Bool
    public var isReadOnly: Bool
    /// With a root drive: `root=PARTUUID=<partuuid>` instead of `root=/dev/vda`.
    public var partuuid: String?
    /// Accepted and echoed back; Swiftlet's disk behaves the same either way.
    public var cacheType: String
    public var ioEngine: String

    static let section = "drives"
    static let fields: Set<String> = [
        "drive_id", "path_on_host", "is_root_device", "is_read_only", "partuuid", "cache_type", "io_engine",
        "rate_limiter", "socket",
    ]

    init(json: JSONValue) throws(APIFault) {
        let fields = try FieldReader(json, section: Self.section, fields: Self.fields)
        driveID = try fields.nonEmptyString("drive_id")
        if fields.has("socket") { throw APIFault("drives: socket: vhost-user drives are not supported") }
        pathOnHost = try fields.nonEmptyString("path_on_host")
        isRootDevice = try fields.bool("is_root_device")
        isReadOnly = try fields.optionalBool("is_read_only") ?? false
        partuuid = try fields.optionalString("partuuid")
        cacheType = try fields.optionalChoice("cache_type", ["Unsafe", "Writeback"]) ?? "Unsafe"
        ioEngine = try fields.optionalChoice("io_engine", ["Sync", "Async"]) ?? "Sync"
        try RateLimiterCheck.check(fields.value("rate_limiter"), field: "rate_limiter", section: Self.section)
        let (path, readOnly) = (pathOnHost, isReadOnly)
        try checked { () throws(ConfigError) in try ConfigParsing.checkDiskFile(path, readOnly: readOnly, field: "drives: path_on_host") }
    }

    /// PATCH /drives/{id} after start: the id, maybe a new backing file, maybe an empty
    /// rate limiter. Returns the new path, if any, checked against the drive's mode.
    static func patch(json: JSONValue, of drive: DriveSpec) throws(APIFault) -> String? {
        let fields = try FieldReader(json, section: section, fields: ["drive_id", "path_on_host", "rate_limiter"])
        _ = try fields.nonEmptyString("drive_id")
        try RateLimiterCheck.check(fields.value("rate_limiter"), field: "rate_limiter", section: section)
        guard fields.has("path_on_host") else { return nil }
        let path = try fields.nonEmptyString("path_on_host")
        try checked { () throws(ConfigError) in try ConfigParsing.checkDiskFile(path, readOnly: drive.isReadOnly, field: "drives: path_on_host") }
        return path
    }

    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("drive_id", .string(driveID)), ("path_on_host", .string(pathOnHost)),
            ("is_root_device", .bool(isRootDevice)), ("is_read_only", .bool(isReadOnly)),
        ]
        if let partuuid { members.append(("partuuid", .string(partuuid))) }
        members += [("cache_type", .string(cacheType)), ("io_engine", .string(ioEngine))]
        return .object(members)
    }
}
