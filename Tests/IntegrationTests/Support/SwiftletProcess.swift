import Foundation
import Synchronization

/// Runs the swiftlet binary as a user would and collects what it said.
///
/// Integration tests drive the real command line: Cloud Hypervisor's integration tests
/// are the model. `until` lets a test stop a guest that will never end by itself (a
/// Linux kernel on PVM, whose user space cannot run) as soon as the line it waits for
/// appears on stdout.
struct SwiftletRun: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String
    /// The run was stopped by us after `until` matched (status is then SIGTERM's).
    let stoppedAtMarker: Bool
    /// The run hit `timeout` and was killed.
    let timedOut: Bool

    var stderrLines: [Substring] { stderr.split(whereSeparator: \.isNewline) }
}

enum Swiftlet {
    /// Runs `swiftlet arguments...` with `input` on stdin; kills it after `timeout`
    /// seconds; with `until`, sends SIGTERM once stdout contains that text.
    /// With `reply`, stdin stays open until stdout shows `reply.after`, then gets
    /// `reply.input`, as a person typing at a prompt would.
    static func run(_ arguments: [String], input: Data = Data(), environment: [String: String] = [:],
                    timeout: Double = 60, until marker: String? = nil,
                    reply: (after: String, input: Data)? = nil, launcher: [String] = [],
                    binary: String = TestEnvironment.swiftletBinary) throws -> SwiftletRun {
        let process = Process()
        // `launcher` runs swiftlet through another command (`ip netns exec NS`).
        let command = launcher + [binary] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr

        let collected = Mutex((out: Data(), err: Data(), stopped: false, replied: false))
        let done = DispatchSemaphore(value: 0)
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            let (stop, answer) = collected.withLock { state -> (Bool, Bool) in
                state.out.append(chunk)
                let text = String(decoding: state.out, as: UTF8.self)
                var answer = false
                if let reply, !state.replied, text.contains(reply.after) {
                    state.replied = true
                    answer = true
                }
                guard let marker, !state.stopped, text.contains(marker) else { return (false, answer) }
                state.stopped = true
                return (true, answer)
            }
            if answer, let reply {
                stdin.fileHandleForWriting.write(reply.input)
                try? stdin.fileHandleForWriting.close()
            }
            if stop { kill(process.processIdentifier, SIGTERM) }
        }
        stderr.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            collected.withLock { $0.err.append(chunk) }
        }
        process.terminationHandler = { _ in done.signal() }
        try process.run()
        stdin.fileHandleForWriting.write(input)
        if reply == nil { try? stdin.fileHandleForWriting.close() }

        let timedOut = done.wait(timeout: .now() + timeout) == .timedOut
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            done.wait()
        }
        process.waitUntilExit()
        // Drain what is left in the pipes after the process ended.
        let restOut = stdout.fileHandleForReading.readDataToEndOfFile()
        let restErr = stderr.fileHandleForReading.readDataToEndOfFile()
        stdout.fileHandleForReading.readabilityHandler = nil
        stderr.fileHandleForReading.readabilityHandler = nil
        let state = collected.withLock { state in
            state.out.append(restOut)
            state.err.append(restErr)
            return state
        }
        return SwiftletRun(
            status: process.terminationStatus,
            stdout: String(decoding: state.out, as: UTF8.self),
            stderr: String(decoding: state.err, as: UTF8.self),
            stoppedAtMarker: state.stopped, timedOut: timedOut)
    }
}
