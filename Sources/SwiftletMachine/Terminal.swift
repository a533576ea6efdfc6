#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Our terminal, raw while the guest runs so that every key (^C included) goes to the
/// guest, and put back exactly as it was on every way out.
public final class Terminal: Sendable {
    private let saved = Mutex<termios?>(nil)
    private let fd: Int32

    public init(fd: Int32 = STDIN_FILENO) { self.fd = fd }

    /// Whether the descriptor is a terminal at all; pipes stay pipes.
    public var isTerminal: Bool { isatty(fd) == 1 }

    /// Switches to raw mode, remembering the settings to restore. A no-op on a pipe.
    public func makeRaw() {
        guard isTerminal else { return }
        var original = termios()
        guard tcgetattr(fd, &original) == 0 else { return }
        saved.withLock { $0 = original }
        var raw = original
        cfmakeraw(&raw)
        // Keep output processing: the guest's console already ends lines with CR LF, and
        // a bare LF from our own messages should still return the carriage.
        raw.c_oflag |= tcflag_t(OPOST)
        tcsetattr(fd, TCSAFLUSH, &raw)
    }

    /// Puts back what `makeRaw` found. Safe to call more than once.
    public func restore() {
        guard var original = saved.withLock({ state -> termios? in
            defer { state = nil }
            return state
        }) else { return }
        tcsetattr(fd, TCSAFLUSH, &original)
    }
}
