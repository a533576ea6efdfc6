#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing
@testable import SwiftletMachine

/// Which requests each phase allows, and what a refusal says.
@Suite struct LifecycleRulesTests {
    @Test func aVMIsStartedOnceThenPausedAndResumed() throws {
        var life = Lifecycle()
        #expect(life.state == .notStarted)
        #expect(throws: VMError("the VM has not been started")) { try life.checkPause() }
        #expect(throws: VMError("the VM has not been started")) { try life.resume() }
        try life.beginStart()
        #expect(life.state == .notStarted)
        #expect(throws: VMError("the VM has already been started")) { try life.beginStart() }
        life.finishStart(succeeded: true)
        #expect(life.state == .running)
        #expect(throws: VMError("the VM is not paused")) { try life.resume() }
        try life.checkPause()
        life.paused()
        #expect(life.state == .paused)
        #expect(throws: VMError("the VM is already paused")) { try life.checkPause() }
        try life.checkStarted()
        try life.resume()
        #expect(life.state == .running)
        life.stopped()
        #expect(life.state == .stopped)
        #expect(throws: VMError("the VM has stopped; it cannot be started again")) { try life.beginStart() }
        #expect(throws: VMError("the VM has stopped")) { try life.checkStarted() }
    }

    @Test func aFailedStartCanBeTriedAgain() throws {
        var life = Lifecycle()
        try life.beginStart()
        life.finishStart(succeeded: false)
        #expect(life.state == .notStarted)
        try life.beginStart()
    }

    /// No KVM is needed to refuse requests a VM that never started cannot serve, or to
    /// stop it: an API process stopped before InstanceStart exits as the signal says.
    @Test func aVMStoppedBeforeItStartsEndsWithTheSignalsStatus() {
        let vm = MicroVM(frontEnd: VMFrontEnd(consoleInput: false, rawTerminal: false), logger: Logger(label: "test"))
        #expect(throws: VMError("the VM has not been started")) { try vm.pause() }
        #expect(throws: VMError("the VM has not been started")) { try vm.sendCtrlAltDel() }
        #expect(throws: VMError("the VM has not been started")) { try vm.replaceDisk(at: 0, path: "/dev/null") }
        vm.stop(signal: SIGTERM)
        #expect(vm.waitUntilStopped() == 143)
        #expect(vm.state == .stopped)
    }
}
