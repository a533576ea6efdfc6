import Foundation
import Synchronization

/// A throw-away network namespace (`ip netns`) for one test: swiftlet's taps, bridges,
/// dnsmasq and the netconsole listener all live in it, so no traffic leaves the machine
/// and tests running side by side never see each other's interfaces.
final class NetworkNamespace {
    let name: String
    private var spawned: [Process] = []
    private var daemons: [Daemon] = []

    /// Root, /dev/net/tun and ip(8): what these tests need.
    static var unusableReason: String? {
        if geteuid() != 0 { return "needs root" }
        if !FileManager.default.fileExists(atPath: "/dev/net/tun") { return "/dev/net/tun is absent" }
        if !FileManager.default.fileExists(atPath: ip) { return "\(ip) is absent" }
        return nil
    }

    static let ip = "/usr/sbin/ip"

    init() throws {
        name = "swnet-\(getpid())-\(UUID().uuidString.prefix(6))"
        guard Self.command(Self.ip, ["netns", "add", name]).status == 0 else { throw NetworkTestError("ip netns add \(name) failed") }
        _ = Self.command(Self.ip, ["-n", name, "link", "set", "lo", "up"])
    }

    deinit {
        // A process left in the namespace would keep it (and its interfaces) alive.
        for daemon in daemons { daemon.stop() }
        // SIGKILL, not SIGTERM: a child inherits the signal mask of the test's worker
        // thread, which blocks SIGTERM (libdispatch does), so a listener that never ends
        // by itself would never hear SIGTERM and waitUntilExit would wait forever.
        for process in spawned where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        _ = Self.command(Self.ip, ["netns", "del", name])
    }

    /// Runs `ip -n NS arguments...`; its status and output.
    @discardableResult
    func ip(_ arguments: [String]) -> (status: Int32, output: String) {
        Self.command(Self.ip, ["-n", name] + arguments)
    }

    /// Names of the interfaces in the namespace.
    var interfaces: [String] {
        ip(["-o", "link", "show"]).output.split(separator: "\n").compactMap { line in
            line.split(separator: ":").dropFirst().first.map { String($0.trimmingCharacters(in: .whitespaces).split(separator: "@")[0]) }
        }
    }

    /// Starts `arguments` inside the namespace in the background, its output (stdout and
    /// stderr) going to `log` under `stream`; stopped when the namespace goes.
    func spawn(_ arguments: [String], log: StreamLog, stream: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ip)
        // ip netns exec execs the command itself: the process is the command.
        process.arguments = ["netns", "exec", name] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                log.close(stream)
            } else {
                log.append(data, to: stream)
            }
        }
        try process.run()
        spawned.append(process)
        return process
    }

    /// Starts a daemon in the namespace (see Daemon): `arguments` must make it fork,
    /// write `pidFile` and let its first process exit once it is ready, as dnsmasq
    /// without --keep-in-foreground does. What that first process says goes to `output`.
    /// Stopped before the namespace goes, or earlier by `Daemon.stop`.
    func startDaemon(_ arguments: [String], pidFile: URL, output: URL) throws -> Daemon {
        let daemon = try Daemon.start([Self.ip, "netns", "exec", name] + arguments,
                                      name: URL(fileURLWithPath: arguments[0]).lastPathComponent,
                                      pidFile: pidFile, output: output)
        daemons.append(daemon)
        return daemon
    }

    static func command(_ path: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// Output of several background processes, by stream name; a waiter wakes at each chunk.
final class StreamLog: Sendable {
    private let streams = Mutex<[String: Data]>([:])
    private let closed = Mutex<Set<String>>([])
    private let arrived = DispatchSemaphore(value: 0)

    /// The stream reached its end: everything its process wrote is in.
    func close(_ stream: String) {
        closed.withLock { _ = $0.insert(stream) }
        arrived.signal()
    }

    func isClosed(_ stream: String) -> Bool { closed.withLock { $0.contains(stream) } }

    func append(_ data: Data, to stream: String) {
        guard !data.isEmpty else { return }
        streams.withLock { $0[stream, default: Data()].append(data) }
        arrived.signal()
    }

    /// Wakes the waiter to look again (a process ended, say).
    func poke() { arrived.signal() }

    func text(_ stream: String) -> String {
        streams.withLock { String(decoding: $0[stream] ?? Data(), as: UTF8.self) }
    }

    /// Waits until `condition` holds, checking it at each new chunk; false at `deadline`.
    func wait(until deadline: DispatchTime, _ condition: () -> Bool) -> Bool {
        while !condition() {
            if arrived.wait(timeout: deadline) == .timedOut { return condition() }
        }
        return true
    }
}

struct NetworkTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension NetworkNamespace {
    /// Runs swiftlet in the namespace until `stop` holds (then `atStop` runs while it is
    /// still up, and it gets SIGTERM) or `timeout`; returns its exit status.
    func runSwiftlet(_ arguments: [String], log: StreamLog, timeout: Double,
                     stop: () -> Bool, atStop: () -> Void = {},
                     wrapper: [String] = []) throws -> (status: Int32, stopped: Bool) {
        let process = try spawn(wrapper + [TestEnvironment.swiftletBinary] + arguments, log: log, stream: "swiftlet")
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in
            log.poke()
            finished.signal()
        }
        let stopped = log.wait(until: .now() + timeout) { stop() || !process.isRunning }
            && process.isRunning
        if stopped { atStop() }
        if process.isRunning { process.terminate() }
        if finished.wait(timeout: .now() + 30) == .timedOut { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        _ = log.wait(until: .now() + 10) { log.isClosed("swiftlet") }
        return (process.terminationStatus, stopped)
    }
}
