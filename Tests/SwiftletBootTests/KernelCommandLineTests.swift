import Testing
@testable import SwiftletBoot

@Suite struct KernelCommandLineTests {
    @Test func joinsArgumentsWithSingleSpaces() throws {
        let line = KernelCommandLine(arguments: ["console=ttyS0", "earlyprintk=serial", "quiet"])
        #expect(line.text == "console=ttyS0 earlyprintk=serial quiet")
        #expect(try line.encoded(limit: 2048) == Array("console=ttyS0 earlyprintk=serial quiet".utf8) + [0])
        #expect(try KernelCommandLine(arguments: []).encoded(limit: 0) == [0])
    }

    @Test func refusesALineLongerThanTheKernelTakes() throws {
        let line = KernelCommandLine(arguments: [String(repeating: "a", count: 2000), String(repeating: "b", count: 48)])
        #expect(try line.encoded(limit: 2049).count == 2050)  // exactly cmdline_size fits
        #expect(throws: BootError.commandLineTooLong(length: 2049, limit: 2048)) { try line.encoded(limit: 2048) }
        #expect(throws: BootError.commandLineContainsNUL) {
            try KernelCommandLine(arguments: ["root=/dev/vda\u{0}init=/bin/sh"]).encoded(limit: 2048)
        }
    }
}
