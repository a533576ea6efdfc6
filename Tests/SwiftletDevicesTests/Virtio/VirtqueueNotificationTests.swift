import Testing
import SwiftletDevices
import SwiftletMemory
import SwiftletTestSupport

@Suite struct VirtqueueNotificationTests {
    typealias F = VirtqueueFixture

    @Test func needsEventUsesSixteenBitArithmetic() {
        // The used idx wraps from 0xfffe to 0x0000, passing an event at 0xffff.
        #expect(Virtqueue.needsEvent(event: 0xffff, new: 0x0000, old: 0xfffe))
        // ... and the event just wrapped to 0: new moved onto it but not past.
        #expect(!Virtqueue.needsEvent(event: 0x0000, new: 0x0000, old: 0xfffe))
        #expect(Virtqueue.needsEvent(event: 0x0000, new: 0x0001, old: 0xfffe))
        // An event behind old was already signalled.
        #expect(!Virtqueue.needsEvent(event: 0xfffd, new: 0x0000, old: 0xfffe))
        // An event far ahead is not reached.
        #expect(!Virtqueue.needsEvent(event: 0x0005, new: 0x0001, old: 0xfffe))
        // Nothing moved: never.
        #expect(!Virtqueue.needsEvent(event: 0x1234, new: 0x1234, old: 0x1234))
    }

    @Test func eventIndexDecidesInterruptsAcrossTheWrap() throws {
        let f = try F(size: 4, eventIndex: true, startIndex: 0xfffe)
        try f.driver.setUsedEvent(0x0000)  // interrupt once used idx moves past 0
        for _ in 0..<4 { try f.driver.addChain(writable: [F.buffer(0x20000, 4)], publish: false) }
        try f.driver.publish()
        var heads: [UInt16] = []
        while let chain = try f.queue.popChain() { heads.append(chain.head) }
        #expect(heads.count == 4)

        try f.queue.addUsed(head: heads[0], writtenLength: 4)  // used idx 0xffff
        #expect(try !f.queue.needsNotification())
        try f.queue.addUsed(head: heads[1], writtenLength: 4)  // used idx 0x0000
        #expect(try !f.queue.needsNotification())
        try f.queue.addUsed(head: heads[2], writtenLength: 4)  // used idx 0x0001: passed 0
        #expect(try f.queue.needsNotification())
        try f.queue.addUsed(head: heads[3], writtenLength: 4)  // driver has not moved used_event
        #expect(try !f.queue.needsNotification())
        #expect(f.driver.usedIndex() == 0x0002)
    }

    @Test func eventIndexSeesAnEventPassedWithinABatch() throws {
        let f = try F(size: 4, eventIndex: true, startIndex: 0xfffe)
        try f.driver.setUsedEvent(0xffff)
        try f.driver.addChain(writable: [F.buffer(0x20000, 4)])
        try f.driver.addChain(writable: [F.buffer(0x20000, 4)])
        let a = try #require(try f.queue.popChain())
        let b = try #require(try f.queue.popChain())
        try f.queue.addUsed(a, writtenLength: 0)
        try f.queue.addUsed(b, writtenLength: 0)  // 0xfffe -> 0x0000 in one batch passes 0xffff
        #expect(try f.queue.needsNotification())
        #expect(try !f.queue.needsNotification())  // nothing new since
    }

    @Test func noInterruptFlagSuppressesInterruptsWithoutEventIndex() throws {
        let f = try F()
        try f.driver.addChain(writable: [F.buffer(0x20000, 4)])
        try f.driver.addChain(writable: [F.buffer(0x20000, 4)])
        let a = try #require(try f.queue.popChain())
        let b = try #require(try f.queue.popChain())
        try f.driver.setAvailFlags(1)  // VIRTQ_AVAIL_F_NO_INTERRUPT
        try f.queue.addUsed(a, writtenLength: 4)
        #expect(try !f.queue.needsNotification())
        try f.driver.setAvailFlags(0)
        try f.queue.addUsed(b, writtenLength: 4)
        #expect(try f.queue.needsNotification())
        #expect(try !f.queue.needsNotification())  // nothing used since the last answer
    }

    @Test func noNotifyFlagFollowsDisableAndEnable() throws {
        let f = try F()
        try f.queue.disableNotifications()
        #expect(f.driver.usedFlags() == 1)
        #expect(!f.driver.kickNeeded(since: 0))
        #expect(try !f.queue.enableNotifications())  // nothing arrived meanwhile
        #expect(f.driver.usedFlags() == 0)
        #expect(f.driver.kickNeeded(since: 0))
    }

    @Test func enableReportsBuffersThatRacedInWithoutEventIndex() throws {
        let f = try F()
        try f.queue.disableNotifications()
        let old = f.driver.publishedAvailIndex
        try f.driver.addChain(readable: [F.buffer(0x10000, 4)])
        #expect(!f.driver.kickNeeded(since: old))  // the driver would not kick for it
        #expect(try f.queue.enableNotifications())  // so enable must report it
        #expect(try f.queue.popChain() != nil)
        #expect(try !f.queue.enableNotifications())
    }

    @Test func enableReportsBuffersThatRacedInWithEventIndex() throws {
        let f = try F(eventIndex: true)
        try f.driver.addChain(readable: [F.buffer(0x10000, 4)])
        // While enabled, each pop asks to be kicked for the next entry.
        #expect(try f.queue.popChain() != nil)
        #expect(f.driver.availEvent() == 1)

        try f.queue.disableNotifications()
        try f.driver.addChain(readable: [F.buffer(0x10000, 4)])
        #expect(try f.queue.popChain() != nil)
        #expect(f.driver.availEvent() == 1)  // disabled: avail_event stays behind
        let old = f.driver.publishedAvailIndex
        try f.driver.addChain(readable: [F.buffer(0x10000, 4)])  // avail idx 2 -> 3
        #expect(!f.driver.kickNeeded(since: old))  // event 1 was already passed: no kick

        #expect(try f.queue.enableNotifications())  // so enable must report it
        #expect(f.driver.availEvent() == 2)
        #expect(try f.queue.popChain() != nil)
        #expect(f.driver.availEvent() == 3)
        #expect(try !f.queue.enableNotifications())
        let before = f.driver.publishedAvailIndex
        try f.driver.addChain(readable: [F.buffer(0x10000, 4)])
        #expect(f.driver.kickNeeded(since: before))
    }
}
