#if canImport(Glibc)
import Glibc
#endif

/// Where the threads of a running guest stop when the VM is paused: every vCPU thread
/// passes `checkpoint()` before each KVM_RUN, and the device thread passes it when the
/// pause doorbell rings. `pause` returns only once all of them are parked, so a paused VM
/// has no vCPU inside KVM_RUN and no device touching guest memory (what snapshots and
/// PATCH /vm need).
///
/// The gate outlives boots: a guest reset builds new threads, which register before they
/// start, so a pause asked for between two boots parks the next boot's threads at their
/// first checkpoint.
public final class PauseGate: @unchecked Sendable {
    // @unchecked: every field below is read and written with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var pauseRequested = false
    private var released = false
    private var participants = 0
    private var parked = 0

    public init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    /// `count` threads are about to start and will pass checkpoints until they `leave`.
    /// Call before starting them, so that a pause in between waits for them too.
    public func join(_ count: Int) {
        locked { participants += count; released = false }
    }

    /// A thread is done (or never started): a pause no longer waits for it.
    public func leave() {
        locked {
            participants -= 1
            pthread_cond_broadcast(&changed)
        }
    }

    /// Parks the calling thread while a pause is requested; returns at once otherwise,
    /// and for good once `release` was called (the boot is ending).
    public func checkpoint() {
        locked {
            guard pauseRequested && !released else { return }
            parked += 1
            pthread_cond_broadcast(&changed)
            while pauseRequested && !released { pthread_cond_wait(&changed, &mutex) }
            parked -= 1
            pthread_cond_broadcast(&changed)
        }
    }

    /// Asks every participant to park, calls `kick` to pull them out of what they are
    /// blocked in, and waits until all are parked. Returns false if the gate was
    /// released (the boot ended) before they all parked.
    @discardableResult
    public func pause(kick: () -> Void) -> Bool {
        locked { pauseRequested = true }
        kick()
        return locked {
            while parked < participants && !released { pthread_cond_wait(&changed, &mutex) }
            return !released || participants == 0
        }
    }

    /// Lets parked threads go on.
    public func resume() {
        locked {
            pauseRequested = false
            pthread_cond_broadcast(&changed)
        }
    }

    /// The boot is ending: no checkpoint parks any more, parked threads go on to see it.
    public func release() {
        locked {
            released = true
            pthread_cond_broadcast(&changed)
        }
    }

    /// Whether a pause is in force (requested and not resumed).
    public var isPaused: Bool { locked { pauseRequested } }
    /// Threads parked right now (tests).
    public var parkedCount: Int { locked { parked } }
}
