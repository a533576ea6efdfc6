#if canImport(Glibc)
import Glibc
#endif

/// A value set once and awaited by any number of threads: how a VM's exit status
/// reaches the front end waiting for it.
final class Latch<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is read and written with `mutex` held.
    private var mutex = pthread_mutex_t()
    private var set = pthread_cond_t()
    private var value: Value?

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&set, nil)
    }

    deinit {
        pthread_cond_destroy(&set)
        pthread_mutex_destroy(&mutex)
    }

    /// Sets the value unless it is set already; returns whether this call set it.
    @discardableResult
    func open(with newValue: Value) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard value == nil else { return false }
        value = newValue
        pthread_cond_broadcast(&set)
        return true
    }

    /// Blocks until the value is set, then returns it.
    func wait() -> Value {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while true {
            if let value { return value }
            pthread_cond_wait(&set, &mutex)
        }
    }

    var current: Value? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return value
    }
}
