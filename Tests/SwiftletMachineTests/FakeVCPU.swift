#if canImport(Glibc)
import Glibc
#endif
import SwiftletKVM
import SwiftletMemory
@testable import SwiftletMachine

/// A vCPU with no KVM behind it: it hands out scripted exits, then "runs the guest" by
/// blocking until `requestExit`, as KVM_RUN does until a kick. It records what the runner
/// answered and whether a thread is inside `runOnce` right now.
final class FakeVCPU: HypervisorVCPU, @unchecked Sendable {
    // @unchecked: every field is read and written with `mutex` held.
    let id: Int
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var script: [VcpuExit]
    private var exitRequested = false
    private(set) var entries = 0
    private(set) var insideRun = false
    private(set) var portInAnswers: [UInt64] = []
    private(set) var mmioReadAnswers: [UInt64] = []
    var portOutValues: [UInt64] = []
    var emulationGap = EmulationGaps.Outcome.completed("nothing")

    init(id: Int = 0, script: [VcpuExit] = []) {
        self.id = id
        self.script = script
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    func runOnce() throws(KVMError) -> VcpuExit {
        locked {
            entries += 1
            pthread_cond_broadcast(&changed)
            if !script.isEmpty { return script.removeFirst() }
            insideRun = true
            while !exitRequested { pthread_cond_wait(&changed, &mutex) }
            exitRequested = false
            insideRun = false
            return .interrupted
        }
    }

    func requestExit() {
        locked {
            exitRequested = true
            pthread_cond_broadcast(&changed)
        }
    }

    /// Blocks until the runner has entered the guest more than `count` times.
    func waitForEntries(moreThan count: Int) {
        locked { while entries <= count { pthread_cond_wait(&changed, &mutex) } }
    }

    var isInsideRun: Bool { locked { insideRun } }
    var entryCount: Int { locked { entries } }

    func portOutValue(at index: Int, size: Int) -> UInt64 {
        locked { index < portOutValues.count ? portOutValues[index] : 0 }
    }

    func completePortIn(at index: Int, size: Int, value: UInt64) { locked { portInAnswers.append(value) } }
    func completeMMIORead(size: Int, value: UInt64) { locked { mmioReadAnswers.append(value) } }
    func completeEmulationGap(memory: GuestMemory) -> EmulationGaps.Outcome { locked { emulationGap } }
    var ripText: String { " at RIP 0x1234" }
    var answers: (port: [UInt64], mmio: [UInt64]) { locked { (portInAnswers, mmioReadAnswers) } }
}
