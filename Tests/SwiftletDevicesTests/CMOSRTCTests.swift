import Synchronization
import Testing
@testable import SwiftletDevices

/// A clock the test moves by hand.
final class FakeClock: Sendable {
    let now: Mutex<Int64>
    init(_ start: Int64) { now = Mutex(start) }
    func advance(_ seconds: Int64) { now.withLock { $0 += seconds } }
    var read: @Sendable () -> Int64 { { self.now.withLock { $0 } } }
}

@Suite struct CMOSRTCTests {
    /// 2024-02-29 13:05:09 UTC, a Thursday.
    static let leapDay: Int64 = 1_709_211_909

    func register(_ rtc: CMOSRTC, _ index: UInt8) -> UInt64 {
        rtc.write(offset: 0, size: 1, value: UInt64(index))
        return rtc.read(offset: 1, size: 1)
    }

    func set(_ rtc: CMOSRTC, _ index: UInt8, _ value: UInt8) {
        rtc.write(offset: 0, size: 1, value: UInt64(index))
        rtc.write(offset: 1, size: 1, value: UInt64(value))
    }

    func time(_ rtc: CMOSRTC) -> [UInt64] {
        [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map { register(rtc, $0) }
    }

    @Test func reportsBCDTimeByDefault() {
        let rtc = CMOSRTC(clock: FakeClock(Self.leapDay).read)
        #expect(time(rtc) == [0x09, 0x05, 0x13, 0x05, 0x29, 0x02, 0x24, 0x20])
        #expect(register(rtc, 0x0A) == 0x26)
        #expect(register(rtc, 0x0B) == 0x02)
        #expect(register(rtc, 0x0D) == 0x80)
    }

    @Test func reportsBinaryAndTwelveHourTime() {
        let rtc = CMOSRTC(clock: FakeClock(Self.leapDay).read)
        set(rtc, 0x0B, 0x06)  // binary, 24-hour
        #expect(time(rtc) == [9, 5, 13, 5, 29, 2, 24, 20])
        set(rtc, 0x0B, 0x04)  // binary, 12-hour: 1 PM
        #expect(register(rtc, 0x04) == 0x81)
        set(rtc, 0x0B, 0x00)  // BCD, 12-hour
        #expect(register(rtc, 0x04) == 0x81)
        let midnight = CMOSRTC(clock: { 0 })
        set(midnight, 0x0B, 0x00)
        #expect(register(midnight, 0x04) == 0x12)  // 12 AM
    }

    @Test func followsTheClock() {
        let clock = FakeClock(Self.leapDay)
        let rtc = CMOSRTC(clock: clock.read)
        clock.advance(11 * 3600 - 5 * 60 - 9)  // to 2024-03-01 00:00:00, a Friday
        #expect(time(rtc) == [0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x24, 0x20])
    }

    @Test func nvramKeepsWhatTheGuestWrites() {
        let rtc = CMOSRTC(clock: { 0 })
        set(rtc, 0x40, 0xA5)
        set(rtc, 0x80 | 0x7F, 0x5A)  // bit 7 of the index is the NMI mask, not an address bit
        set(rtc, 0x0E, 0x11)
        _ = time(rtc)
        #expect(register(rtc, 0x40) == 0xA5)
        #expect(register(rtc, 0x7F) == 0x5A)
        #expect(register(rtc, 0x0E) == 0x11)
        #expect(register(rtc, 0x41) == 0x00)
        set(rtc, 0x0D, 0x00)  // read-only
        #expect(register(rtc, 0x0D) == 0x80)
        set(rtc, 0x0A, 0xA6)  // UIP is read-only
        #expect(register(rtc, 0x0A) == 0x26)
    }

    @Test func registerCClearsOnRead() {
        let clock = FakeClock(Self.leapDay)
        let rtc = CMOSRTC(clock: clock.read)
        #expect(register(rtc, 0x0C) == 0x00)
        clock.advance(1)
        #expect(register(rtc, 0x0C) == 0x10)  // an update cycle ended
        #expect(register(rtc, 0x0C) == 0x00)
        set(rtc, 0x0B, 0x12)  // UIE
        clock.advance(1)
        #expect(register(rtc, 0x0C) == 0x90)
        #expect(register(rtc, 0x0C) == 0x00)
    }

    @Test func civilTimeHandlesEdges() {
        #expect(CivilTime(unixTime: 0) == CivilTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, weekday: 5))
        #expect(CivilTime(unixTime: -1) == CivilTime(year: 1969, month: 12, day: 31, hour: 23, minute: 59, second: 59, weekday: 4))
        #expect(CivilTime(unixTime: 4_107_542_400) == CivilTime(year: 2100, month: 3, day: 1, hour: 0, minute: 0, second: 0, weekday: 2))
    }
}
