#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// Where swiftlet's log lines go in API mode: stderr as "swiftlet: message" until /logger
/// (or --log-path) names a file or FIFO; then one line per message, with the instance id
/// and, when asked, the level and the source location. A log reader that stalls never
/// stalls the VMM: the file is non-blocking and a line it cannot take is dropped.
public final class LogSink: Sendable {
    struct Settings {
        var fd: Int32 = STDERR_FILENO
        /// nil: logging is off.
        var level: Logger.Level? = .warning
        var showLevel = false
        var showOrigin = false
    }

    private let settings = Mutex(Settings())
    let instanceID: String

    public init(instanceID: String) { self.instanceID = instanceID }

    /// The level below which messages are dropped; nil when logging is off.
    public var level: Logger.Level? { settings.withLock { $0.level } }

    /// Firecracker's level names (case-insensitive), to swift-log's.
    static let levels: [(name: String, level: Logger.Level?)] = [
        ("Error", .error), ("Warning", .warning), ("Info", .info), ("Debug", .debug), ("Trace", .trace), ("Off", nil),
    ]

    static func level(named name: String, field: String) throws(APIFault) -> Logger.Level? {
        guard let match = levels.first(where: { $0.name.lowercased() == name.lowercased() }) else {
            throw APIFault("\(field) '\(name)' is not one of \(levels.map(\.name).joined(separator: ", "))")
        }
        return match.level
    }

    /// Opens `path` for appending (created if absent; a FIFO opened without waiting for its
    /// reader), or says why not.
    static func openForAppending(_ path: String, field: String) throws(APIFault) -> Int32 {
        // O_RDWR rather than O_WRONLY: a FIFO with no reader yet opens instead of failing
        // with ENXIO (the jailer hands Firecracker FIFOs).
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0o600)
        guard fd >= 0 else { throw APIFault("\(field): cannot open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Applies what /logger or the command line asked for; a nil leaves that part as it is.
    func configure(fd: Int32?, level: Logger.Level??, showLevel: Bool?, showOrigin: Bool?) {
        settings.withLock { settings in
            if let fd {
                if settings.fd != STDERR_FILENO { close(settings.fd) }
                settings.fd = fd
            }
            if let level { settings.level = level }
            if let showLevel { settings.showLevel = showLevel }
            if let showOrigin { settings.showOrigin = showOrigin }
        }
    }

    public func log(level: Logger.Level, _ message: String, file: String = #fileID, line: UInt = #line) {
        settings.withLock { settings in
            guard let threshold = settings.level, level >= threshold else { return }
            var text: String
            if settings.fd == STDERR_FILENO {
                text = "swiftlet: "
            } else {
                var now = timespec()
                clock_gettime(CLOCK_REALTIME, &now)
                text = "\(now.tv_sec).\(String(now.tv_nsec / 1_000_000).leftPadded(3)) [\(instanceID)] "
            }
            if settings.showLevel { text += "[\(Self.name(of: level))] " }
            if settings.showOrigin { text += "\(file):\(line) " }
            text += message + "\n"
            text.withUTF8 { _ = write(settings.fd, $0.baseAddress, $0.count) }
        }
    }

    private static func name(of level: Logger.Level) -> String {
        switch level {
        case .trace: return "Trace"
        case .debug: return "Debug"
        case .info, .notice: return "Info"
        case .warning: return "Warning"
        case .error, .critical: return "Error"
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// /logger: where and how much swiftlet logs.
struct LoggerSettings: Sendable, Equatable {
    var logPath: String?
    var level: String?
    var showLevel: Bool?
    var showLogOrigin: Bool?

    static let section = "logger"

    /// Reads the request; the caller opens the file (after everything else is checked).
    init(json: JSONValue) throws(APIFault) {
        let fields = try FieldReader(json, section: Self.section, fields: ["log_path", "level", "show_level", "show_log_origin", "module"])
        logPath = try fields.optionalString("log_path")
        level = try fields.optionalString("level")
        if let level { _ = try LogSink.level(named: level, field: "logger: level") }
        showLevel = try fields.optionalBool("show_level")
        showLogOrigin = try fields.optionalBool("show_log_origin")
        // module (a filter by Rust module path) names nothing in Swiftlet: accepted, unused.
        _ = try fields.optionalString("module")
    }

    init(logPath: String?, level: String?, showLevel: Bool?, showLogOrigin: Bool?) {
        self.logPath = logPath
        self.level = level
        self.showLevel = showLevel
        self.showLogOrigin = showLogOrigin
    }

    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        if let logPath { members.append(("log_path", .string(logPath))) }
        if let level { members.append(("level", .string(level))) }
        if let showLevel { members.append(("show_level", .bool(showLevel))) }
        if let showLogOrigin { members.append(("show_log_origin", .bool(showLogOrigin))) }
        return .object(members)
    }
}
