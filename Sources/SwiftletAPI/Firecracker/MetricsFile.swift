#if canImport(Glibc)
import Glibc
#endif

/// /metrics: a file (or FIFO) that gets one JSON object per line at each FlushMetrics.
/// Clients read the last line. Swiftlet's counters are few: the API's own, and the VM state.
final class MetricsFile {
    let path: String
    private let fd: Int32

    init(path: String) throws(APIFault) {
        self.path = path
        fd = try LogSink.openForAppending(path, field: "metrics: metrics_path")
    }

    deinit { close(fd) }

    /// Appends `line` and a newline in one write; false if the reader could not take it.
    func append(_ line: String) -> Bool {
        var text = line + "\n"
        return text.withUTF8 { write(fd, $0.baseAddress, $0.count) == $0.count }
    }

    static func path(from json: JSONValue) throws(APIFault) -> String {
        let fields = try FieldReader(json, section: "metrics", fields: ["metrics_path"])
        return try fields.nonEmptyString("metrics_path")
    }
}
