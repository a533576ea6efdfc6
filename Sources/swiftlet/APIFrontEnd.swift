#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Logging
import SwiftletAPI
import SwiftletHost
import SwiftletMachine

/// The API front end: Firecracker's command line, the socket server and the config
/// file, over a VMController that `makeController` supplies (the real VM object, or a
/// test's). The main thread starts what was asked, then waits for the VM's end.
enum APIFrontEnd {
    /// Whether `arguments` ask for API mode: any of Firecracker's own options.
    static func isChosen(by arguments: [String]) -> Bool {
        arguments.prefix { $0 != "--" }.contains { argument in
            FirecrackerCommand.optionNames.contains(String(argument.prefix { $0 != "=" }))
        }
    }

    static func main(arguments: [String], makeController: (Logger, ProcessLockdown) -> any VMController) -> Int32 {
        let command: FirecrackerCommand
        do {
            var parsed = try FirecrackerCommand.parseAsRoot(arguments)
            guard let ours = parsed as? FirecrackerCommand else {
                // ArgumentParser's own help command: let it print and succeed.
                try parsed.run()
                return ExitStatus.poweredOff.rawValue
            }
            command = ours
        } catch {
            if FirecrackerCommand.exitCode(for: error) == .success { FirecrackerCommand.exit(withError: error) }
            printError(FirecrackerCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad command line")
            return ExitStatus.usage.rawValue
        }

        // Stop signals are taken by one thread (below), never by whichever thread they hit.
        let stopSignals = [SIGINT, SIGTERM, SIGHUP]
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signal in stopSignals { sigaddset(&blocked, signal) }
        pthread_sigmask(SIG_BLOCK, &blocked, nil)
        signal(SIGPIPE, SIG_IGN)

        let sink = LogSink(instanceID: command.id)
        LoggingSystem.bootstrap { label in SinkLogHandler(sink: sink) }
        let logger = Logger(label: "swiftlet")
        let controller = makeController(logger, command.lockdownOptions.lockdown)
        let api = FirecrackerAPI(controller: controller,
                                 options: .init(instanceID: command.id, enablePCI: command.enablePCI, verbose: command.verbose),
                                 logSink: sink)
        do throws(APIFault) {
            try applyCommandLine(command, to: api)
            if let path = command.configFile { try api.apply(configFile: try readFile(path)) }
        } catch {
            printError(error.description)
            return ExitStatus.usage.rawValue
        }

        let watcher = SignalWatcher(signals: stopSignals, controller: controller)
        guard watcher.start() else {
            printError("cannot start the signal thread")
            return ExitStatus.vmmError.rawValue
        }

        var server: UnixSocketServer?
        if !command.noAPI {
            do throws(APIServerError) {
                let started = try UnixSocketServer(path: command.apiSock ?? FirecrackerDefaults.socketPath,
                                                   maximumBody: command.maxPayloadSize, handler: api.handle)
                try started.start()
                server = started
            } catch {
                printError(error.description)
                return ExitStatus.vmmError.rawValue
            }
        }
        if command.configFile != nil {
            do throws(APIFault) {
                try api.start()
            } catch {
                printError(error.description)
                server?.stop()
                return ExitStatus.vmmError.rawValue
            }
        }
        let status = controller.waitUntilStopped()
        server?.stop()
        return watcher.received.map(ExitStatus.killed(by:)) ?? status
    }

    /// The logging and metrics options, through the same endpoints as a client's PUTs.
    static func applyCommandLine(_ command: FirecrackerCommand, to api: FirecrackerAPI) throws(APIFault) {
        var logger: [(key: String, value: JSONValue)] = []
        if let path = command.logPath { logger.append(("log_path", .string(path))) }
        if command.verbose { logger.append(("level", .string("Trace"))) }
        if let level = command.level { logger.append(("level", .string(level))) }
        if command.showLevel { logger.append(("show_level", .bool(true))) }
        if command.showLogOrigin { logger.append(("show_log_origin", .bool(true))) }
        if !logger.isEmpty { try put(api, "/logger", .object(logger), option: "--log-path/--level") }
        if let path = command.metricsPath { try put(api, "/metrics", .object([("metrics_path", .string(path))]), option: "--metrics-path") }
    }

    private static func put(_ api: FirecrackerAPI, _ path: String, _ body: JSONValue, option: String) throws(APIFault) {
        // A --level given with --verbose wins: drop the earlier duplicate key.
        var members: [(key: String, value: JSONValue)] = []
        if case .object(let pairs) = body {
            for pair in pairs.reversed() where !members.contains(where: { $0.key == pair.key }) { members.insert(pair, at: 0) }
        }
        let response = api.handle(HTTPRequest(method: "PUT", path: path, body: Array(JSONValue.object(members).text.utf8)))
        guard response.status == 204 else { throw APIFault("\(option): \(response.faultMessage ?? "refused")") }
    }

    /// The whole of a (small) configuration file.
    static func readFile(_ path: String) throws(APIFault) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw APIFault("--config-file: cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw APIFault("--config-file: cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
            // Far more than any VM's description; a bound so a wrong path (a device) cannot eat memory.
            guard bytes.count <= 1 << 20 else { throw APIFault("--config-file: \(path) is larger than 1 MiB") }
        }
    }
}

/// swift-log into the API's log sink, whose level /logger can change while we run.
struct SinkLogHandler: LogHandler {
    let sink: LogSink
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level {
        get { sink.level ?? .critical }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard sink.level != nil else { return }
        sink.log(level: event.level, "\(event.message)", file: event.file, line: event.line)
    }
}
