import Foundation
import Synchronization
import Testing

/// The test guest's `mode=counter`, the clock the pause and resume tests watch: it must
/// keep the pace it is asked for in host time, which only holds if the guest measured
/// its TSC against the PIT correctly.
@Suite struct CounterGuestTests {
    @Test func countsAtTheIntervalItIsGiven() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("counter guest", because: "/dev/kvm is absent")
        }
        let lines = 6, interval = 0.2
        let run = try TimedLines.run(["64", TestEnvironment.testGuest, "mode=counter",
                                      "interval_ms=\(Int(interval * 1000))", "count_lines=\(lines)"])
        #expect(run.status == 0, "\(run.text)")
        #expect(run.text.contains("kHz by the pit\n"), "\(run.text)")
        let counts = run.lines.filter { $0.text.hasPrefix("count ") }
        #expect(counts.map(\.text) == (0..<lines).map { "count \($0)" }, "\(run.text)")
        guard counts.count == lines else { return }
        // Five intervals of 200 ms: a second, give or take the host's scheduling at either
        // end (the guest's schedule is anchored, so late lines in between do not add up).
        // A guest that took this host's 2.6 GHz TSC for 4 GHz would take 1.5 s; one that
        // printed in a burst, no time at all.
        let span = counts[lines - 1].time - counts[0].time
        let expected = Double(lines - 1) * interval
        #expect(span > 0.85 * expected && span < 1.3 * expected, "\(lines) lines took \(span) s")
        for (before, after) in zip(counts, counts.dropFirst()) {
            #expect(after.time - before.time > interval / 2, "\(before.text) and \(after.text) came too close")
        }
    }
}

/// Runs swiftlet and notes when each line of its stdout arrived.
struct TimedLines {
    struct Line {
        let text: String
        /// Seconds since the process started.
        let time: Double
    }

    let status: Int32
    let lines: [Line]
    var text: String { lines.map { $0.text + "\n" }.joined() }

    static func run(_ arguments: [String], timeout: Double = 60) throws -> TimedLines {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.swiftletBinary)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardInput = FileHandle.nullDevice
        let start = DispatchTime.now().uptimeNanoseconds
        let collected = Mutex((lines: [Line](), partial: Data()))
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            let time = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            collected.withLock { state in
                state.partial.append(chunk)
                while let newline = state.partial.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = state.partial[state.partial.startIndex..<newline]
                    state.lines.append(Line(text: String(decoding: line, as: UTF8.self), time: time))
                    state.partial.removeSubrange(state.partial.startIndex...newline)
                }
            }
        }
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        try process.run()
        if done.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            done.wait()
        }
        process.waitUntilExit()
        let rest = stdout.fileHandleForReading.readDataToEndOfFile()
        stdout.fileHandleForReading.readabilityHandler = nil
        let time = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let lines = collected.withLock { state in
            state.partial.append(rest)
            for line in state.partial.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            where !line.isEmpty {
                state.lines.append(Line(text: String(decoding: line, as: UTF8.self), time: time))
            }
            return state.lines
        }
        return TimedLines(status: process.terminationStatus, lines: lines)
    }
}
