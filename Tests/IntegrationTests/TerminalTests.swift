import Foundation
import Testing

/// swiftlet on a terminal, driven through a pseudo-terminal by python3 (`driver` below):
/// raw mode gives ^C to the guest, three ^C within a second end swiftlet, and the
/// terminal's settings come back exactly as they were.
@Suite struct TerminalTests {
    /// Runs argv[1:] on a new pty's slave and prints what it saw, one fact a line.
    static let driver = #"""
    import os, select, subprocess, sys, termios, time
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    child = subprocess.Popen(sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    seen = b""
    def read_until(want, seconds):
        global seen
        end = time.monotonic() + seconds
        while want not in seen and time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        return want in seen
    if not read_until(b"testguest: start", 60):
        print("no start line: %r" % seen); sys.exit(1)
    if termios.tcgetattr(slave)[3] & termios.ICANON:
        print("not in raw mode"); sys.exit(1)
    os.write(master, b"a\x03b")
    if read_until(b"a\x03b", 60):
        print("echoed ^C")
    else:
        print("no echo: %r" % seen)
    # A second later, so the first ^C falls out of the one-second window.
    time.sleep(1.1)
    for _ in range(3):
        os.write(master, b"\x03")
    try:
        status = child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill(); status = child.wait()
    print("status %d" % status)
    after = termios.tcgetattr(slave)
    print("termios restored" if after == before else "termios differ: %r vs %r" % (before, after))
    """#

    @Test func controlCGoesToTheGuestAndThreeEndSwiftlet() throws {
        guard TestEnvironment.hasKVM else {
            try TestEnvironment.skipped("terminal ^C", because: "/dev/kvm is absent")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.driver, TestEnvironment.swiftletBinary, "64", TestEnvironment.testGuest, "mode=echo"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "driver said: \(text)")
        for line in ["echoed ^C", "status 130", "termios restored"] {
            #expect(text.contains(line + "\n"), "no '\(line)' in: \(text)")
        }
    }
}
