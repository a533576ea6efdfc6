import Foundation
import Testing
@testable import SwiftletKVM

/// Byte offsets into KVM's structures (linux/kvm.h, asm/kvm.h; the x86 ABI never changes):
/// kvm_irqchip is chip_id, pad, then the chip's state; kvm_pic_state starts last_irr,
/// irr, imr, isr, priority_add, irq_base; kvm_ioapic_state has its 24 redirection
/// entries from byte 24; kvm_pit_state2 starts with channel 0's 32-bit count, and the
/// channel's mode is its byte 13.
enum Offsets {
    static let chip = 8
    static let picIMR = chip + 2, picIRQBase = chip + 5
    static func ioapicRedirection(_ pin: Int) -> Int { chip + 24 + 8 * pin }
    static let pitCount = 0, pitMode = 13
}

@Suite(.serialized) struct VMSnapshotTests {
    /// A VM whose PIC, IOAPIC, PIT and clock hold values no fresh VM has.
    func alteredMachine() throws -> TestMachine {
        let machine = try TestMachine(configure: true)
        var state = try machine.vm.captureState()
        state.picMaster[Offsets.picIMR] = 0xA5
        state.picMaster[Offsets.picIRQBase] = 0x20
        state.picSlave[Offsets.picIRQBase] = 0x28
        withUnsafeBytes(of: UInt64(0x0001_0000_0000_0031).littleEndian) {
            state.ioapic.replaceSubrange(Offsets.ioapicRedirection(4)..<Offsets.ioapicRedirection(5), with: $0)
        }
        withUnsafeBytes(of: UInt32(0x1234).littleEndian) {
            state.pit.replaceSubrange(Offsets.pitCount..<Offsets.pitCount + 4, with: $0)
        }
        state.pit[Offsets.pitMode] = 2
        state.clock = 10_000_000_000
        try machine.vm.restoreState(state)
        return machine
    }

    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func interruptControllersAndTimerComeBackAsSaved() throws {
        let source = try alteredMachine()
        let saved = try source.vm.captureState()
        #expect(saved.picMaster[Offsets.picIMR] == 0xA5)
        #expect(saved.pit[Offsets.pitMode] == 2)

        let target = try TestMachine(configure: false)
        try target.vm.restoreState(saved)
        let restored = try target.vm.captureState()
        #expect(restored.picMaster == saved.picMaster)
        #expect(restored.picSlave == saved.picSlave)
        #expect(restored.ioapic == saved.ioapic)
        #expect(restored.pit[Offsets.pitCount..<Offsets.pitCount + 4] == saved.pit[Offsets.pitCount..<Offsets.pitCount + 4])
        #expect(restored.pit[Offsets.pitMode] == 2)
    }

    /// Resumed, the clock continues from the saved value; advanced, it has moved on by the
    /// wall-clock time since the snapshot (here a snapshot dated 5 s back).
    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func kvmclockResumesOrAdvances() throws {
        let source = try alteredMachine()
        var saved = try source.vm.captureState()
        #expect(saved.clock >= 10_000_000_000 && saved.clock < 11_000_000_000)

        let resumed = try TestMachine(configure: false)
        try resumed.vm.restoreState(saved, clock: .resume)
        let afterResume = try resumed.vm.clockNanoseconds()
        #expect(afterResume >= saved.clock && afterResume < saved.clock + 1_000_000_000)

        saved.realtime -= 5_000_000_000
        let advanced = try TestMachine(configure: false)
        try advanced.vm.restoreState(saved, clock: .advanceByElapsedRealtime)
        let afterAdvance = try advanced.vm.clockNanoseconds()
        #expect(afterAdvance >= saved.clock + 5_000_000_000 && afterAdvance < saved.clock + 6_000_000_000)

        // A snapshot from a KVM that gave no realtime reading: Swiftlet adds the time itself.
        saved.clockFlags &= ~(1 << 2)
        let advancedByUs = try TestMachine(configure: false)
        try advancedByUs.vm.restoreState(saved, clock: .advanceByElapsedRealtime)
        let afterOurAdvance = try advancedByUs.vm.clockNanoseconds()
        #expect(afterOurAdvance >= saved.clock + 5_000_000_000 && afterOurAdvance < saved.clock + 6_000_000_000)
    }

    @Test(.enabled(if: TestMachine.hasKVM, "/dev/kvm is absent"))
    func aChipSavedAsAnotherIsRefused() throws {
        let machine = try TestMachine(configure: false)
        var state = try machine.vm.captureState()
        state.picSlave = state.ioapic
        #expect(throws: KVMError.invalidState(what: "slave PIC", detail: "it is chip 2, not 1")) {
            try machine.vm.restoreState(state)
        }
    }
}
