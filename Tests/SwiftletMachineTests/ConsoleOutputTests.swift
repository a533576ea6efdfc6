#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SwiftletMachine

/// The guest's console output never blocks the thread that writes it: a reader that
/// stops reading costs the guest bytes (counted), never time.
@Suite struct ConsoleOutputTests {
    @Test func aStalledReaderCostsBytesNotTime() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let output = ConsoleOutput(fd: ends[1], capacity: 64 << 10)
        // 1 MiB in 4 KiB lines while nobody reads: the pipe holds 64 KiB, the writer
        // thread one chunk, the buffer 64 KiB; the rest must be dropped, not waited for.
        var sent: [UInt8] = []
        for line in 0..<256 {
            let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: line), count: 4096)
            sent += chunk
            output.write(chunk)
        }
        let dropped = output.droppedCount
        #expect(dropped > 0)
        #expect(dropped < sent.count)

        // Now read it all: what arrives is what was sent, in order, less the dropped tail.
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var flags = fcntl(ends[0], F_GETFL)
        flags |= O_NONBLOCK
        _ = fcntl(ends[0], F_SETFL, flags)
        while received.count < sent.count - dropped {
            let count = read(ends[0], &buffer, buffer.count)
            if count > 0 { received += buffer[0..<count] } else { _ = output.flush(within: 1) }
        }
        #expect(output.flush(within: 5) == dropped)
        close(ends[1])
        #expect(received == Array(sent.prefix(sent.count - dropped)))
    }

    @Test func everythingArrivesWhenTheReaderKeepsUp() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let output = ConsoleOutput(fd: ends[1])
        let text = Array("testguest: 3 checks, 0 failed\n".utf8)
        output.write(text)
        #expect(output.flush(within: 5) == 0)
        close(ends[1])
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(ends[0], &buffer, buffer.count)
        #expect(Array(buffer[0..<max(count, 0)]) == text)
    }
}
