#if canImport(Glibc)
import Glibc
#endif
import Logging

/// swift-log to stderr as "swiftlet: message", one write per line so that lines from
/// several vCPU threads never interleave mid-line.
struct OneLineLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .notice
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        printError("\(event.message)")
    }
}
