#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Testing
@testable import SwiftletMachine

/// The guest's console output never blocks the thread that writes it: a reader that
/// stops reading costs the guest bytes (counted), never time.
@Suite struct ConsoleOutputTests {
    /// A reader the test holds still, then lets go: what it received, in order.
    final class HeldReader: @unchecked Sendable {
        // @unchecked: both fields are read and written with `mutex` held.
        private var mutex = pthread_mutex_t()
        private var changed = pthread_cond_t()
        private var held = true
        private var received: [UInt8] = []

        init() {
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&changed, nil)
        }

        func take(_ bytes: [UInt8]) {
            pthread_mutex_lock(&mutex)
            while held { pthread_cond_wait(&changed, &mutex) }
            received += bytes
            pthread_mutex_unlock(&mutex)
        }

        func letGo() {
            pthread_mutex_lock(&mutex)
            held = false
            pthread_cond_broadcast(&changed)
            pthread_mutex_unlock(&mutex)
        }

        var bytes: [UInt8] {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            return received
        }
    }

    @Test func aStalledReaderCostsBytesNotTime() {
        let reader = HeldReader()
        let output = ConsoleOutput(capacity: 64 << 10) { reader.take($0) }
        // 1 MiB in 4 KiB lines while the reader is held: the writer thread holds at most
        // one chunk and the buffer 64 KiB; the rest must be dropped, not waited for (a
        // write that waited would never return, the reader being held).
        var sent: [UInt8] = []
        for line in 0..<256 {
            let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: line), count: 4096)
            sent += chunk
            output.write(chunk)
        }
        let dropped = output.droppedCount
        #expect(dropped >= sent.count - 2 * (64 << 10))
        #expect(dropped < sent.count)

        // Let it read: what arrives is what was sent, in order, less the dropped tail.
        reader.letGo()
        #expect(output.flush(within: 30) == dropped)
        #expect(reader.bytes == Array(sent.prefix(sent.count - dropped)))
    }

    @Test func everythingArrivesThroughADescriptorWhenTheReaderKeepsUp() throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let output = ConsoleOutput(fd: ends[1])
        let text = Array("testguest: 3 checks, 0 failed\n".utf8)
        output.write(text)
        #expect(output.flush(within: 30) == 0)
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(ends[0], &buffer, buffer.count)
        #expect(Array(buffer[0..<max(count, 0)]) == text)
    }
}
