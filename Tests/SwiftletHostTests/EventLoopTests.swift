import Synchronization
import Testing
import SwiftletHost

#if canImport(Glibc)
import Glibc
#endif

@Suite struct EventLoopTests {
    @Test func eventFDCountsSignals() throws {
        let fd = try EventFD()
        #expect(fd.drain() == 0)
        fd.signal(); fd.signal()
        #expect(fd.drain() == 2)
        #expect(fd.drain() == 0)
    }

    @Test func runsTheHandlerOfAReadyDescriptorThenStops() throws {
        let loop = try EventLoop()
        let notify = try EventFD()
        let seen = Mutex(0)
        try loop.add(notify.descriptor) { [loop] in
            seen.withLock { $0 += Int(notify.drain()) }
            loop.stop()
        }
        notify.signal()
        loop.run()  // returns only because the handler ran and stopped it
        #expect(seen.withLock { $0 } == 1)
    }

    @Test func removedDescriptorsAreNotServed() throws {
        let loop = try EventLoop()
        let quiet = try EventFD(), last = try EventFD()
        let quietRuns = Mutex(0)
        try loop.add(quiet.descriptor) { quietRuns.withLock { $0 += 1 } }
        try loop.add(last.descriptor) { [loop] in loop.stop() }
        loop.remove(quiet.descriptor)
        quiet.signal()
        last.signal()
        loop.run()
        #expect(quietRuns.withLock { $0 } == 0)
    }
}
