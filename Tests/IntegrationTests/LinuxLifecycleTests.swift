import Foundation
import Testing

/// Linux at the lifecycle edges: its own AP bring-up on two vCPUs, and a panic reported
/// through pvpanic. Each boot of the test kernel costs about two minutes on PVM.
@Suite struct LinuxLifecycleTests {
    /// Linux starts the second CPU itself (INIT/SIPI through KVM's in-kernel LAPIC).
    ///
    /// Disabled: on PVM, Linux hangs right after CPU 1 starts ("smpboot: CPU 1 Converting
    /// physical 0 to logical die 1", stamped ~1 s while CPU 0 is at ~13 s: the AP's clock
    /// is far behind; not our IA32_TSC write, measured without it). The test guest's own
    /// INIT/SIPI bring-up works (TestGuest smp tests). Left open in issue 6.
    @Test(.disabled("Linux hangs after starting CPU 1 on PVM; see the comment"))
    func testKernelBringsUpTwoCPUs() throws {
        guard TestEnvironment.hasKVM else {
            TestEnvironment.skipped("Linux SMP", because: "/dev/kvm is absent")
            return
        }
        guard let kernel = TestEnvironment.testVmlinux, let initramfs = TestEnvironment.initramfs else {
            Issue.record("Linux SMP: guest image missing; run scripts/images all (scripts/test does)")
            return
        }
        let run = try Swiftlet.run(
            ["--cpus", "2", "256", kernel, "--initrd=\(initramfs)", "console=ttyS0"],
            timeout: 1500, until: LinuxBootTests.runInit)
        #expect(!run.timedOut, "no result in 25 minutes; tail: \(run.stdout.suffix(2000))")
        #expect(run.stdout.contains("smp: Brought up 1 node, 2 CPUs"), "tail: \(run.stdout.suffix(3000))")
        #expect(run.stdout.contains(LinuxBootTests.runInit))
    }

    /// No init to run: the kernel panics, its pvpanic driver tells us, and we exit 3.
    @Test func panickingKernelEndsWithStatus3() throws {
        guard TestEnvironment.hasKVM else {
            TestEnvironment.skipped("Linux panic", because: "/dev/kvm is absent")
            return
        }
        guard let kernel = TestEnvironment.testVmlinux else {
            Issue.record("Linux panic: test kernel missing; run scripts/images all (scripts/test does)")
            return
        }
        let run = try Swiftlet.run(["256", kernel, "console=ttyS0", "init=/nonexistent"], timeout: 1500)
        #expect(!run.timedOut, "no result in 25 minutes; tail: \(run.stdout.suffix(2000))")
        #expect(run.stdout.contains("Kernel panic - not syncing"), "tail: \(run.stdout.suffix(2000))")
        #expect(run.status == 3, "stderr: \(run.stderr)")
        #expect(run.stderr == "swiftlet: the guest panicked\n")
    }
}
